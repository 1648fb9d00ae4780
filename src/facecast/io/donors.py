"""The donor gallery's ``donors.csv`` (donor_id and declared attributes), read as the user wrote it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facecast.errors import InputError


def read_donors_csv(donors_dir: Path) -> pd.DataFrame:
    """``donors.csv`` of the gallery, every column kept as declared (as strings; empty cells stay missing)."""
    path = Path(donors_dir) / "donors.csv"
    if not path.is_file():
        raise InputError(f"{path}: the donor gallery has no donors.csv (donor_id and declared attributes)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as CSV: {exc}") from exc
    if "donor_id" not in table.columns:
        raise InputError(f"{path}: no column donor_id")
    empty = [str(n + 2) for n in np.flatnonzero(table["donor_id"].isna().to_numpy())]
    if empty:
        raise InputError(f"{path}: donor_id is empty on line(s) {', '.join(empty)}")
    table["donor_id"] = table["donor_id"].str.strip()
    return table
