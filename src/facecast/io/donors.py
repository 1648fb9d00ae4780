"""The donor gallery's ``donors.csv`` (donor_id and declared attributes), read as the user wrote it.

Its values are published (the dataset card's donors, licences and
attributions), so a control character in a column name or a value (Unicode
Cc, Cf, Zl, Zp: NUL, tab, newline, zero-width and bidirectional marks)
stops with the cells named and the characters escaped (:mod:`facecast.io.text`),
as ingest does for labels.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facecast.errors import InputError
from facecast.io.text import escaped, is_control


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
    _refuse_control_characters(path, table)
    return table


def _refuse_control_characters(path: Path, table: pd.DataFrame) -> None:
    """Stop naming every column name and cell (by donor and column) that holds a control character."""
    bad = [f"column name '{escaped(str(c))}'" for c in table.columns if any(map(is_control, str(c)))]
    for donor_id, (_, row) in zip(table["donor_id"], table.iterrows()):
        bad += [
            f"donor '{escaped(donor_id)}' {escaped(str(column))} '{escaped(value)}'"
            for column, value in row.items()
            if isinstance(value, str) and any(map(is_control, value))
        ]
    if bad:
        raise InputError(f"{path}: control characters (remove them): {'; '.join(bad)}")
