"""The frame plan of an expressions clip: which expression is held or morphed on each frame."""

from __future__ import annotations

from dataclasses import dataclass

TRANSITION = "transition"


@dataclass(frozen=True)
class Segment:
    """Frames ``start``..``end`` (0-based, inclusive) of a clip.

    A hold shows expression ``src``; a transition morphs from ``src`` to
    ``dst`` (``dst`` is None on holds).
    """

    start: int
    end: int
    label: str
    src: int
    dst: int | None = None

    @property
    def n_frames(self) -> int:
        return self.end - self.start + 1


def plan(expressions: list[str], hold_frames: int, morph_frames: int) -> list[Segment]:
    """Hold each expression ``hold_frames`` frames, morph to the next over ``morph_frames`` frames."""
    if not expressions:
        raise ValueError("a clip needs at least one expression")
    if hold_frames < 1 or morph_frames < 1:
        raise ValueError(f"hold_frames and morph_frames must be at least 1, got {hold_frames} and {morph_frames}")
    segments, frame = [], 0
    for i, label in enumerate(expressions):
        segments.append(Segment(frame, frame + hold_frames - 1, label, i))
        frame += hold_frames
        if i + 1 < len(expressions):
            segments.append(Segment(frame, frame + morph_frames - 1, TRANSITION, i, i + 1))
            frame += morph_frames
    return segments
