"""Atomic outputs: leftovers of dead writers are swept, a live writer's are not, a failed write names its output."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from facecast.errors import OutputError
from facecast.io.atomic import atomic_dir, atomic_file, leftovers, sweep_tree, write_json


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_dead_writers_temporary_folder_goes_with_the_next_write(tmp_path):
    stale = tmp_path / f".swapped.{dead_pid()}.abc123.tmp"
    stale.mkdir()
    (stale / "000001.jpg").write_bytes(b"partial")
    old = tmp_path / ".swapped.old"
    old.mkdir()
    with atomic_dir(tmp_path / "swapped") as tmp:
        (tmp / "done.txt").write_text("ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped"]
    assert (tmp_path / "swapped" / "done.txt").read_text() == "ok"


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".gates.parquet.{sleeper.pid}.x1y2.tmp"
        live.write_bytes(b"in progress")
        dead = tmp_path / f".gates.parquet.{dead_pid()}.z9.tmp"
        dead.write_bytes(b"abandoned")
        assert leftovers(tmp_path / "gates.parquet") == [dead]
        write_json(tmp_path / "gates.parquet", {"a": 1})  # any write of that output sweeps
        assert live.exists() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sweep_tree_finds_leftovers_of_every_output_below_the_roots(tmp_path):
    (tmp_path / "data" / "interim").mkdir(parents=True)
    (tmp_path / "metrics").mkdir()
    pid = dead_pid()
    left = [
        tmp_path / "data" / f".swapped.{pid}.q.tmp",
        tmp_path / "data" / "interim" / f".faces.parquet.{pid}.r.tmp",
        tmp_path / "metrics" / f".gates.json.{pid}.s.tmp",
    ]
    left[0].mkdir()
    for path in left[1:]:
        path.write_text("x")
    keep = tmp_path / "data" / "interim" / "faces.parquet"
    keep.write_text("real output")
    swept = sweep_tree([tmp_path / "data", tmp_path / "metrics", tmp_path / "absent"])
    assert not any(p.exists() for p in left) and keep.exists()
    assert {p.name for p in swept} == {"swapped", "faces.parquet", "gates.json"}


def test_a_failed_write_keeps_the_old_output_and_names_it(tmp_path):
    out = tmp_path / "frames"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(OutputError, match=f"{out}: could not be written: No space left on device"):
        with atomic_dir(out) as tmp:
            (tmp / "b.txt").write_text("second")
            raise OSError(28, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
    assert [p.name for p in out.iterdir()] == ["a.txt"]


def test_a_file_size_limit_is_one_error_naming_the_output(tmp_path):
    """A real write past ``ulimit -f`` (RLIMIT_FSIZE): Parquet's writer fails, the error names the output."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        import pyarrow as pa, pyarrow.parquet as pq
        from facecast.errors import OutputError
        from facecast.io.atomic import atomic_file
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        table = pa.table({{"name": [str(i) * 50 for i in range(20000)]}})
        try:
            with atomic_file({str(tmp_path / "big.parquet")!r}) as tmp:
                pq.write_table(table, tmp, compression="none")
        except OutputError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    message = proc.stdout.strip()
    assert message.startswith(f"{tmp_path / 'big.parquet'}: could not be written: ") and "File too large" in message
    assert "\n" not in message
    assert os.listdir(tmp_path) == []


def test_atomic_file_replaces_in_one_step(tmp_path):
    target = tmp_path / "plots" / "distances.csv"
    with atomic_file(target) as tmp:
        pd.DataFrame({"a": [1]}).to_csv(tmp, index=False)
        assert not target.exists()
    assert target.read_text() == "a\n1\n"
