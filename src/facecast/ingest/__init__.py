"""Stage ``ingest``: validate and index the footage under ``input.root``; never modify it.

Input: ``clips/`` (video files .mp4 .avi .mov .mkv .webm, or one folder of
numbered images per clip), ``labels.csv`` (required) and ``subjects.csv``
(optional). Output: ``clips.parquet`` (one row per clip), ``frames.parquet``
(one row per decoded frame of every clip whose status is ok),
``ingest_issues.parquet`` (every problem found that did not stop the stage)
and ``metrics/ingest.json`` (counts of clips by status, frames by label
state, label rows and issues by kind).

Identifiers and numbering: clip_id is a video's file stem or an image
folder's name. Frame numbers in labels.csv are 0-based positions in the
clip's decoded frames (for an image folder, the position in numeric order of
the file names). A frame's timestamp_s is frame_idx / fps, where fps comes
from the video container, or from ``ingest.image_fps`` for image folders.

What stops ingest (InputError, exit code 2, nothing written):

- ``input.root``, its ``clips/`` folder or ``labels.csv`` missing; no clip in ``clips/``;
  an output path inside ``input.root``;
- two clips with the same id (``a.mp4`` and ``a.avi``): the message names both;
  a clip id (file stem or folder name) with a control character;
- a malformed ``labels.csv``: not UTF-8 or not valid CSV, no header, a column
  named twice, a row with more or fewer fields than the header, neither
  format's columns (clip, start_frame, end_frame, label / clip, frame, label),
  columns of both formats, a required column missing, an empty clip or label,
  a frame number that is not a non-negative integer (or exceeds int32),
  end_frame before start_frame, a control character (Unicode Cc, Cf, Zl, Zp:
  NUL, tab, newline, zero-width and bidirectional marks) in a clip, a label
  or a column name. Every bad row is listed with its 1-based data row number
  (header excluded, blank lines counted); a control character also with the
  line the row starts on and the character escaped (``'\\x00'``);
- a malformed ``subjects.csv`` (same checks; columns clip, subject_id);
- with ``ingest.strict_labels: true``: any label row recorded below
  (unknown_clip, unusable_clip, out_of_range, overlap, duplicate), all listed.

What is recorded and goes on (a status in clips.parquet and/or a row of
ingest_issues.parquet with its kind and a precise reason, counted in the metrics):

- a clip that will not open, fails to decode mid-way, changes frame size, or
  decodes fewer frames than its container declares: status ``unreadable``
  (issue ``unreadable``); a 0-byte or frameless clip: status ``empty``. n_frames
  counts the frames decoded before the failure; such a clip has no frame rows;
- a hidden entry or anything in ``clips/`` that is not a clip: ``not_a_clip``;
  a file in an image folder that is not an image: ``not_a_frame``;
- an image-folder clip whose frames have an alpha channel (or a PNG
  transparent colour): one ``alpha_dropped`` issue naming the first such file
  and how many; frames are read without it, not composited on any background
  (a transparent pixel keeps the colour stored under it);
- a video whose container has no frame rate: ``no_fps`` (``ingest.image_fps`` is used);
- a CSV column that is not read: ``unknown_column``;
- a label row naming no clip in ``clips/``: ``unknown_clip``; a label row for a
  clip that is not ok: ``unusable_clip``;
- a segment reaching past the clip's last frame: ``out_of_range`` (the frames
  that exist are still labelled);
- frames given different labels by two rows: ``overlap`` (those frames get no
  label rather than an arbitrary one); the same label twice: ``duplicate`` (merged);
- each run of frames no label row covers: one ``unlabelled`` issue (label null);
- subjects.csv: a clip not in ``clips/`` (``unknown_clip``), a clip listed twice
  with the same subject (``duplicate``) or with different ones
  (``subject_conflict``: the clip gets no subject). Clips without a subject get null.

The input tree is only read: nothing under ``input.root`` is created or changed.
"""

from facecast.ingest.stage import ingest

__all__ = ["ingest"]
