"""The openpeople subjects and the images cut from their sheets.

Only what the ``openpeople`` package ships is used; nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from facecast.errors import InputError
from facecast.io.clips import ClipError, read_image
from facecast.sample.sheets import CHARACTER_GRID, EMOTIONS_GRID, find_cells

PACKAGE = "openpeople"
ASSET_KEYS = ("studio_portrait", "amateur_selfie", "character_sheet", "emotions_sheet")
FITZPATRICK = ("I", "II", "III", "IV", "V", "VI")
_FITZPATRICK_RE = re.compile(r"^\s*fitzpatrick\s+(?:type\s+)?([ivx]+)\s*$", re.IGNORECASE)


def skin_tone_numeral(text: str, who: str) -> str:
    """'Fitzpatrick II' -> 'II'; anything else is an error naming ``who``."""
    match = _FITZPATRICK_RE.match(text or "")
    numeral = match.group(1).upper() if match else None
    if numeral not in FITZPATRICK:
        raise InputError(f"{who}: skin_tone {text!r} is not a Fitzpatrick type ('Fitzpatrick I' .. 'Fitzpatrick VI')")
    return numeral


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


def package_licence() -> str:
    """The licence the openpeople distribution declares (its License-Expression or License field)."""
    meta = importlib.metadata.metadata(PACKAGE)
    licence = next(iter(meta.get_all("License-Expression") or meta.get_all("License") or []), None)
    if not licence:
        raise InputError(f"the {PACKAGE} distribution declares no licence; its images cannot be redistributed")
    return licence.strip()


@dataclass
class Subject:
    """One openpeople person: declared attributes and the images facecast uses."""

    person_id: str
    sex: str
    age_range: str
    ethnicity: str
    skin_tone: str  # Fitzpatrick roman numeral
    assets: dict[str, Path]

    def image(self, key: str) -> np.ndarray:
        """An asset as RGB uint8."""
        path = self.assets[key]
        try:
            return read_image(path)
        except ClipError as exc:
            raise InputError(f"{self.person_id}: {key}: {exc}") from None

    @cached_property
    def expression_cells(self) -> list[np.ndarray]:
        """The 16 photos of the emotions sheet, in sheet order (RGB, cropped inside their borders)."""
        sheet = self.image("emotions_sheet")
        name = f"{self.person_id} emotions sheet ({self.assets['emotions_sheet']})"
        return [cell.crop(sheet).copy() for cell in find_cells(sheet, EMOTIONS_GRID, name)]

    @cached_property
    def front_view(self) -> np.ndarray:
        """The front view: first cell of the character sheet's top row."""
        sheet = self.image("character_sheet")
        name = f"{self.person_id} character sheet ({self.assets['character_sheet']})"
        return find_cells(sheet, CHARACTER_GRID, name)[0].crop(sheet).copy()


def _assets(person) -> dict[str, Path | None]:
    out: dict[str, Path | None] = {}
    for key in ASSET_KEYS:
        try:
            out[key] = Path(person.asset_path(key))
        except KeyError:
            out[key] = None
    return out


def subjects(count: int) -> list[Subject]:
    """The first ``count`` curated openpeople people, in id order."""
    import openpeople

    people = sorted(openpeople.curated.list(), key=lambda p: p.person_id)
    if count > len(people):
        raise InputError(f"sample.people is {count} but {PACKAGE} ships only {len(people)} curated people")
    out = []
    for person in people[:count]:
        d = person.demographics
        assets = _assets(person)
        missing = [f"{k} ({p or 'not listed'})" for k, p in assets.items() if p is None or not p.is_file()]
        if missing:
            raise InputError(f"{person.person_id}: {PACKAGE} asset(s) missing: {', '.join(missing)}")
        found = {k: p for k, p in assets.items() if p is not None}
        out.append(
            Subject(
                person_id=person.person_id,
                sex=d.sex,
                age_range=d.age_range,
                ethnicity=d.ethnicity,
                skin_tone=skin_tone_numeral(d.skin_tone, person.person_id),
                assets=found,
            )
        )
    return out
