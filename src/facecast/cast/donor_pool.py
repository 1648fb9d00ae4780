"""The donor gallery as the cast stage reads it: donors.csv, and each donor's analysed frontal faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facecast.cast.synthesis import DonorFace
from facecast.errors import InputError
from facecast.io.clips import ClipError, read_image

OK = "ok"


def own_faces(donor_faces: pd.DataFrame) -> pd.DataFrame:
    """The donor_faces rows that are the donor's own face (not a bystander found in the same image)."""
    return donor_faces[~donor_faces["bystander"]]


def _analysed(faces: pd.DataFrame) -> pd.DataFrame:
    """Faces with status ok, landmarks and an embedding."""
    return faces[(faces["status"] == OK) & faces["landmarks"].notna() & faces["embedding"].notna()]


def _off_frontal_deg(faces: pd.DataFrame) -> np.ndarray:
    """Per face, the larger of |yaw| and |pitch| (NaN where the pose is unknown)."""
    return np.fmax(faces["yaw_deg"].abs().to_numpy(float), faces["pitch_deg"].abs().to_numpy(float))


def frontal_faces(donor_faces: pd.DataFrame, max_deg: float) -> pd.DataFrame:
    """The donor's own faces with status ok, landmarks, an embedding, and |yaw|, |pitch| <= max_deg."""
    faces = _analysed(own_faces(donor_faces))
    return faces[_off_frontal_deg(faces) <= max_deg]


def unusable_donors(donor_ids: list[str], donor_faces: pd.DataFrame, max_deg: float) -> dict[str, str]:
    """Donors with no face :func:`frontal_faces` would keep, each with the reason.

    ``donor_faces`` is the faces stage's table of the donor images; a
    bystander found in a donor's image does not count as the donor's face.
    """
    own = own_faces(donor_faces)
    out: dict[str, str] = {}
    for donor_id in donor_ids:
        rows = own[own["donor_id"] == donor_id]
        if rows.empty:
            out[donor_id] = "no image of this donor was analysed"
            continue
        found = _analysed(rows)
        if found.empty:
            out[donor_id] = f"no face with landmarks and an embedding in its {rows['image'].nunique()} image(s)"
            continue
        pose = _off_frontal_deg(found)
        if np.all(np.isnan(pose)):
            out[donor_id] = "no face with a known head pose"
        elif np.nanmin(pose) > max_deg:
            out[donor_id] = f"no frontal face: the most frontal is {np.nanmin(pose):.0f} deg off (limit {max_deg:g})"
    return out


def load_donor_faces(donors_dir: Path, faces: pd.DataFrame, donor_ids: list[str]) -> dict[str, list[DonorFace]]:
    """The :class:`DonorFace` objects of these donors (rows of :func:`frontal_faces`), images read from the gallery."""
    out: dict[str, list[DonorFace]] = {}
    images: dict[str, np.ndarray] = {}
    for donor_id in donor_ids:
        rows = faces[faces["donor_id"] == donor_id].sort_values(["image", "bbox_x0", "bbox_y0"])
        out[donor_id] = []
        for image, landmarks, embedding in zip(rows["image"], rows["landmarks"], rows["embedding"]):
            if image not in images:
                try:
                    images[image] = read_image(Path(donors_dir) / image)
                except ClipError as exc:
                    raise InputError(f"donor {donor_id}: {exc} (it was analysed by the faces stage; rerun it)") from exc
            points = np.asarray(landmarks, np.float64).reshape(68, 2)
            out[donor_id].append(DonorFace(images[image], points, np.asarray(embedding, np.float32), str(image)))
    return out
