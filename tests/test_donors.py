"""The donor gallery as read: donors.csv's values must be plain text, and its folders and rows must agree."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecast import tables
from facecast.errors import InputError
from facecast.faces.donor_images import gallery_entries
from facecast.faces.stage import analyse
from facecast.io.donors import read_donors_csv
from facecast.params import FacesParams


def gallery(base: Path, csv: str | None, folders: tuple[str, ...]) -> Path:
    """A gallery with one grey (faceless) image in each folder and the given donors.csv text."""
    root = base / "donors"
    root.mkdir()
    for name in folders:
        (root / name).mkdir()
        assert cv2.imwrite(str(root / name / "portrait.png"), np.full((80, 60, 3), 120, np.uint8))
    if csv is not None:
        (root / "donors.csv").write_text(csv)
    return root


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("donor_id,sex,licence\nD1,female,CC\0BY\n", r"donor 'D1' licence 'CC\\x00BY'"),
        ('donor_id,sex,licence\nD1,female,"CC\nBY"\n', r"donor 'D1' licence 'CC\\nBY'"),
        ("donor_id,sex\nD\u200b1,female\n", r"donor 'D\\u200b1' donor_id 'D\\u200b1'"),
        ("donor_id,se\x07x\nD1,female\n", r"column name 'se\\x07x'"),
    ],
)
def test_control_characters_in_donors_csv_stop(tmp_path, csv, message):
    root = gallery(tmp_path, csv, ("D1",))
    with pytest.raises(InputError, match=message) as err:
        read_donors_csv(root)
    text = str(err.value)
    assert text.startswith(f"{root / 'donors.csv'}: control characters (remove them): ")
    assert "\n" not in text and text.isprintable()


def test_a_plain_donors_csv_is_read_as_written(tmp_path):
    root = gallery(tmp_path, "donor_id,sex,licence\n D1 ,female,CC BY 4.0\n", ("D1",))
    table = read_donors_csv(root)
    assert table.to_dict("records") == [{"donor_id": "D1", "sex": "female", "licence": "CC BY 4.0"}]


def test_folders_not_in_donors_csv_are_skipped_and_named(tmp_path, caplog):
    root = gallery(tmp_path, "donor_id,sex\nD1,female\nD7,male\n", ("D1", "D2", "D9"))
    (root / "notes.txt").write_text("x")
    with caplog.at_level(logging.WARNING, logger="facecast"):
        folders, skipped = gallery_entries(root)
    assert [f.name for f in folders] == ["D1"]
    assert skipped == ["D2/", "D9/", "notes.txt"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{root}: 2 folder(s) not in donors.csv, not read: D2, D9",
        f"{root}: donors.csv lists 1 donor(s) with no folder: D7",
    ]


def test_without_a_readable_donors_csv_every_folder_is_read(tmp_path, caplog):
    root = gallery(tmp_path, None, ("D1", "D2"))
    assert [f.name for f in gallery_entries(root)[0]] == ["D1", "D2"]
    (root / "donors.csv").write_text("id,sex\nD1,female\n")  # no donor_id column: cast stops on the file
    with caplog.at_level(logging.WARNING, logger="facecast"):
        assert [f.name for f in gallery_entries(root)[0]] == ["D1", "D2"]
    assert not caplog.records


@pytest.mark.stage
def test_faces_stage_lists_the_unlisted_folder_in_its_metrics(tmp_path, caplog):
    root = gallery(tmp_path, "donor_id,sex\nD1,female\n", ("D1", "D9"))
    interim = tmp_path / "interim"
    tables.write("clips", [], interim)
    tables.write("frames", [], interim)
    with caplog.at_level(logging.WARNING, logger="facecast"):
        metrics = analyse(root, FacesParams(workers=1), interim, tmp_path / "faces.json")
    assert metrics["donors"]["donors"] == 1 and metrics["donors"]["files_skipped"] == ["D9/"]
    assert tables.read_df("donor_tracks", interim)["donor_id"].tolist() == ["D1"]
    assert any("not in donors.csv, not read: D9" in r.getMessage() for r in caplog.records)
