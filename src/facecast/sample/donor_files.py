"""The donor gallery: per person a folder of face images, and donors.csv with their declared attributes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facecast.sample.people import Subject, package_licence, package_version
from facecast.sample.sheets import EXPRESSIONS

MAX_SIDE = 1024  # donor images are downscaled so their longest side is at most this (keeps `faces` fast)
JPEG_QUALITY = 95
COLUMNS = ("donor_id", "person_id", "sex", "age_range", "ethnicity", "skin_tone", "source", "licence")


def expression_file(index: int) -> str:
    """'expr_01_neutral.jpg' .. 'expr_16_determined.jpg' (``index`` 0-based)."""
    return f"expr_{index + 1:02d}_{EXPRESSIONS[index]}.jpg"


def fit_within(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """The image downscaled (area interpolation) so its longest side is at most ``max_side``; never upscaled."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"{path}: could not write the image")


def write_donor(subject: Subject, folder: Path) -> int:
    """Write one person's donor images into ``folder``; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {
        "studio_portrait.jpg": subject.image("studio_portrait"),
        "selfie.jpg": subject.image("amateur_selfie"),
        "front.jpg": subject.front_view,
    }
    images.update({expression_file(i): cell for i, cell in enumerate(subject.expression_cells)})
    for name, image in images.items():
        write_jpeg(folder / name, fit_within(image))
    return len(images)


def donor_row(subject: Subject) -> dict[str, str]:
    return {
        "donor_id": subject.person_id,
        "person_id": subject.person_id,
        "sex": subject.sex,
        "age_range": subject.age_range,
        "ethnicity": subject.ethnicity,
        "skin_tone": subject.skin_tone,
        "source": f"openpeople {package_version()} curated {subject.person_id}",
        "licence": package_licence(),
    }


def write_donors_csv(subjects: list[Subject], path: Path) -> None:
    pd.DataFrame([donor_row(s) for s in subjects], columns=list(COLUMNS)).to_csv(path, index=False)
