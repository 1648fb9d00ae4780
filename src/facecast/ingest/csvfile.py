"""Reading the small CSV files of the input (labels.csv, subjects.csv).

Format problems stop ingest with one :class:`InputError` that names the file,
each bad row (1-based data row, header excluded, blank lines counted) and what
is wrong with it. Column names are matched without surrounding spaces and
case; values lose their surrounding spaces; blank lines are skipped. A
control character in a column name, or in a value that is read
(:mod:`facecast.io.text`), is such a problem: its row is named with the
line it starts on, as an editor numbers it (a quoted newline makes the two
differ), and the character is shown escaped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from facecast.errors import InputError
from facecast.ingest.issues import Issue
from facecast.io.text import control_characters, escaped

MAX_FRAME = 2**31 - 1  # frame numbers are int32 in every table
MAX_LISTED = 20  # problems listed in one error message; the rest are counted


@dataclass(frozen=True)
class CsvTable:
    path: Path
    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]  # (data row number, column -> stripped value)
    lines: dict[int, int] = field(default_factory=dict)  # data row number -> the file line it starts on


def fail(path: Path, problems: list[str]) -> None:
    """Raise one InputError listing the problems (if there are any)."""
    if not problems:
        return
    listed = problems[:MAX_LISTED]
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise InputError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(listed) + more)


def read_csv(path: Path) -> CsvTable:
    """Read a CSV file with a header row; any malformed line stops with InputError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, starts, end = [], [], 0  # starts: the line each record starts on
    try:
        for record in reader:
            records.append(record)
            starts.append(end + 1)
            end = reader.line_num
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise InputError(f"{path}: no header row (the first line must name the columns)")
    columns = tuple(cell.strip().lower() for cell in records[0])
    problems = [f"header: column {i + 1} has no name" for i, name in enumerate(columns) if not name]
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    problems += [f"header: column '{name}' appears more than once" for name in repeated]
    problems += [
        f"header: column {i + 1} '{escaped(name)}' has control character(s) {control_characters(name)}"
        for i, name in enumerate(columns)
        if control_characters(name)
    ]
    rows, lines = [], {}
    for number, record in enumerate(records[1:], start=1):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            problems.append(f"row {number}: {len(record)} fields, the header has {len(columns)}")
            continue
        rows.append((number, {name: cell.strip() for name, cell in zip(columns, record)}))
        lines[number] = starts[number]
    fail(path, problems)
    return CsvTable(path, columns, tuple(rows), lines)


def require_columns(table: CsvTable, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(
            f"{table.path}: missing column(s) {', '.join(missing)} for {what} "
            f"(needs {', '.join(required)}; found {', '.join(table.columns)})"
        )


def unused_columns(table: CsvTable, used: tuple[str, ...], source: str) -> list[Issue]:
    """An issue for every column that is read by nobody."""
    return [
        Issue(source, "unknown_column", f"{table.path}: column '{name}' is not used (columns read: {', '.join(used)})")
        for name in table.columns
        if name not in used
    ]


def non_empty(values: dict[str, str], column: str, number: int, problems: list[str]) -> str:
    """The value of a column that must not be empty; an empty one is added to problems."""
    value = values[column]
    if not value:
        problems.append(f"row {number}: {column} is empty")
    return value


def plain_text(
    table: CsvTable, number: int, values: dict[str, str], columns: tuple[str, ...], problems: list[str]
) -> None:
    """Add a problem for every value of these columns that holds a control character (shown escaped)."""
    for column in columns:
        found = control_characters(values[column])
        if found:
            where = f"row {number} (line {table.lines[number]})"
            problems.append(f"{where}: {column} '{escaped(values[column])}' has control character(s) {found}")


def frame_number(values: dict[str, str], column: str, number: int, problems: list[str]) -> int:
    """A frame number (non-negative integer within int32); a bad one is added to problems and read as 0."""
    value = values[column]
    if not re.fullmatch(r"[0-9]+", value):
        problems.append(f"row {number}: {column} '{escaped(value)}' is not a frame number (a non-negative integer)")
        return 0
    if int(value) > MAX_FRAME:
        problems.append(f"row {number}: {column} {value} is larger than the largest frame number {MAX_FRAME}")
        return 0
    return int(value)
