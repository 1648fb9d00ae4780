"""Find the photo cells of an openpeople sheet from their white borders.

Every cell of an emotions sheet (4x4) or a character sheet (2x4) is a photo
inside a thin, near-white rectangular border on a grey background. The cells
are found from the image itself, not from fixed pixel positions: the
near-white pixels are split into connected components, a component counts as
a border when each of its four sides is a continuous white line, and the
borders must form the expected grid. Cells are cropped inside the border.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecast.errors import InputError

# The 16 cells of the emotions sheet, in row order (4x4 grid).
EXPRESSIONS = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "surprised",
    "disgusted",
    "scared",
    "confused",
    "smug",
    "flirty",
    "thoughtful",
    "pensive",
    "exhausted",
    "shocked",
    "playful",
    "determined",
)
EMOTIONS_GRID = (4, 4)
CHARACTER_GRID = (2, 4)  # face angles (front, left, back, right), then posture angles

WHITE_MIN = 200  # a border pixel has every channel at least this bright (the background is grey, ~90-140)
MIN_CELL_FRACTION = 0.05  # a cell spans at least this fraction of the sheet's width and height
SIDE_BAND = 0.03  # a side of the border lies within this fraction of the cell size from its bounding box
SIDE_COVERAGE = 0.97  # ... and is white along at least this fraction of its length
SIZE_TOLERANCE = 0.1  # cells differ in width (whole sheet) and height (within a row) by at most this fraction


class SheetError(InputError):
    """A sheet whose bordered cells do not form the expected grid."""


@dataclass(frozen=True)
class Cell:
    """A cell's photo area (inside the border), in sheet pixels; x1/y1 exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]


def _white_mask(image: np.ndarray) -> np.ndarray:
    return (cv2.inRange(image, (WHITE_MIN,) * 3, (255,) * 3) > 0).astype(np.uint8)


def _side_covered(band: np.ndarray, axis: int) -> float:
    """Fraction of positions along a side where the band holds a white pixel."""
    return float(band.any(axis=axis).mean())


def _is_border(box: np.ndarray) -> bool:
    """Whether a component's pixels (cropped to its bounding box) draw a closed rectangle."""
    h, w = box.shape
    by, bx = max(2, round(SIDE_BAND * h)), max(2, round(SIDE_BAND * w))
    sides = (
        _side_covered(box[:by], axis=0),
        _side_covered(box[-by:], axis=0),
        _side_covered(box[:, :bx], axis=1),
        _side_covered(box[:, -bx:], axis=1),
    )
    return min(sides) >= SIDE_COVERAGE


def _thickness(profile: np.ndarray) -> int:
    """Rows (from the outside in) of a side's white-fraction profile that belong to the line."""
    line = profile >= 0.5
    start = int(np.argmax(line)) if line.any() else 0
    inside = np.flatnonzero(~line[start:])
    return start + (int(inside[0]) if inside.size else line.size - start)


def _inset(box: np.ndarray) -> int:
    """How far inside the bounding box the photo starts: the border's width plus its soft edge.

    A drawn rectangle has the same line width on every side; the thinnest
    side is taken because a white photo region touching the border (a white
    shirt at the bottom) makes that side look thicker.
    """
    h, w = box.shape
    mid_x, mid_y = slice(w // 10, w - w // 10), slice(h // 10, h - h // 10)
    depth = max(4, min(h, w) // 8)
    profiles = (
        box[:depth, mid_x].mean(axis=1),
        box[::-1][:depth, mid_x].mean(axis=1),
        box[mid_y, :depth].mean(axis=0),
        box[mid_y, ::-1][:, :depth].mean(axis=0),
    )
    line = min(_thickness(p) for p in profiles)
    return line + max(2, round(0.005 * min(h, w)))


def _rows(boxes: list[tuple[int, int, int, int]]) -> list[list[tuple[int, int, int, int]]]:
    """Group boxes (x, y, w, h) into rows by their vertical centre, top to bottom, each left to right."""
    rows: list[list[tuple[int, int, int, int]]] = []
    for box in sorted(boxes, key=lambda b: b[1] + b[3] / 2):
        centre = box[1] + box[3] / 2
        if rows and abs(centre - (rows[-1][0][1] + rows[-1][0][3] / 2)) < rows[-1][0][3] / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [sorted(r, key=lambda b: b[0]) for r in rows]


def find_cells(image: np.ndarray, grid: tuple[int, int], name: str) -> list[Cell]:
    """The ``rows x cols`` bordered cells of a sheet (RGB or BGR uint8), in row order.

    Raises :class:`SheetError` naming ``name`` when the borders found do not
    form exactly that grid of similar-sized cells.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise SheetError(f"{name}: expected a colour image, got an array of shape {image.shape}")
    n_rows, n_cols = grid
    height, width = image.shape[:2]
    mask = _white_mask(image)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes, insets = [], {}
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if w < MIN_CELL_FRACTION * width or h < MIN_CELL_FRACTION * height:
            continue
        box = labels[y : y + h, x : x + w] == i
        if _is_border(box):
            boxes.append((x, y, w, h))
            insets[(x, y, w, h)] = _inset(box)
    rows = _rows(boxes)
    shape = [len(r) for r in rows]
    if shape != [n_cols] * n_rows:
        raise SheetError(
            f"{name}: expected a {n_rows}x{n_cols} grid of white-bordered cells, "
            f"found {len(boxes)} bordered cell(s) in rows of {shape or 'none'}"
        )
    med_w = np.median([b[2] for b in boxes])
    for row in rows:
        med_h = np.median([b[3] for b in row])
        for x, y, w, h in row:
            if abs(w - med_w) > SIZE_TOLERANCE * med_w or abs(h - med_h) > SIZE_TOLERANCE * med_h:
                raise SheetError(
                    f"{name}: bordered cell at x={x}, y={y} is {w}x{h} px, "
                    f"unlike the others (about {med_w:.0f}x{med_h:.0f} px)"
                )
    cells = []
    for row in rows:
        for box in row:
            x, y, w, h = box
            d = insets[box]
            if 2 * d >= min(w, h):
                raise SheetError(f"{name}: border of the cell at x={x}, y={y} leaves no photo inside")
            cells.append(Cell(x + d, y + d, x + w - d, y + h - d))
    return cells
