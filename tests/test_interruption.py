"""Faults injected into a real `dvc repro` of the tiny project: kill -9 of a stage while its workers run, kill -9
while it writes its output, Ctrl-C (SIGINT to the whole process group, as a terminal sends it) and a file size
limit. After each: no process of the stage is left, the stage says one line, and the next `dvc repro` leaves no
temporary file and gives a dataset byte-identical to the uninterrupted run's."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from conftest import environ
from conftest import run as run_in

pytestmark = pytest.mark.slow

TEMPORARY = ("*.tmp", ".*.old")
CARD = "DATASET_CARD.md"


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def temporaries(root: Path) -> list[Path]:
    return sorted(
        p for folder in ("data", "metrics", "plots", "reports") for g in TEMPORARY for p in (root / folder).rglob(g)
    )


def set_param(root: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[section][key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def wait_for(condition, what: str, timeout: float = 180.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Repro:
    """`dvc repro` in its own process group, as a terminal runs it."""

    def __init__(self, root: Path, *args: str):
        self.proc = subprocess.Popen(
            ["dvc", "repro", *args],
            cwd=root,
            env=environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def stage(self, name: str) -> psutil.Process | None:
        """The stage's own process (``python stages/<name>.py``), once it runs."""
        try:
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                cmd = p.cmdline()
                if any(part.endswith(f"stages/{name}.py") for part in cmd) and "-c" not in cmd:
                    return p
        except psutil.NoSuchProcess:
            return None
        return None

    def workers(self, stage: psutil.Process) -> list[psutil.Process]:
        try:
            return stage.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def finish(self) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=300)
        return self.proc.returncode, out


def assert_gone(processes: list[psutil.Process]) -> None:
    """Every process has exited within a few seconds (a zombie awaiting its reaper counts as gone)."""

    def alive() -> list[psutil.Process]:
        out = []
        for p in processes:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.NoSuchProcess:
                pass
        return out

    end = time.monotonic() + 15
    while alive() and time.monotonic() < end:
        time.sleep(0.1)
    left = alive()
    assert not left, f"left running: {[(p.pid, p.cmdline()) for p in left]}"


@pytest.fixture(scope="module")
def reference(tiny_project) -> dict[str, str]:
    return digests(tiny_project.root / "data" / "dataset")


@pytest.fixture(scope="module")
def project(tiny_project, tmp_path_factory) -> Path:
    return tiny_project.copy_to(tmp_path_factory.mktemp("faults") / "project")


def test_kill_9_of_a_stage_takes_its_workers_with_it(project):
    # more workers than before: the stage is out of date, its outputs will not change
    set_param(project, "faces", "workers", 3)
    repro = Repro(project)
    stage = wait_for(lambda: repro.stage("faces"), "the faces stage")
    workers = wait_for(lambda: repro.workers(stage), "the faces workers")
    family = [stage, *workers]
    stage.send_signal(signal.SIGKILL)
    code, out = repro.finish()
    assert code != 0, out
    assert_gone([*family, *repro.workers(stage)])


def test_kill_9_while_writing_leaves_a_leftover_the_next_run_removes(project):
    set_param(project, "swap", "workers", 1)  # threads; the frames are the same
    repro = Repro(project)
    stage = wait_for(lambda: repro.stage("swap"), "the swap stage")
    leftover = wait_for(lambda: list((project / "data").glob(".swapped.*.tmp")), "swap's temporary folder")
    stage.send_signal(signal.SIGKILL)
    code, out = repro.finish()
    assert code != 0 and "Running stage 'swap'" in out, out
    assert all(p.exists() for p in leftover)  # kill -9 allows no clean-up: the next run must do it


def test_ctrl_c_prints_one_line_and_stops_the_workers(project):
    set_param(project, "gate", "workers", 3)
    # every face measured again: the gate keeping swap's measures finishes the tiny project's 15 frames before the
    # interrupt reaches it
    set_param(project, "gate", "reuse_swap_measures", False)
    for attempt in range(3):
        # swap runs first (still out of date), then gate; later attempts run the gate alone again
        repro = Repro(project) if attempt == 0 else Repro(project, "--force", "--single-item", "gate")
        stage = wait_for(lambda r=repro: r.stage("gate"), "the gate stage", timeout=300)
        workers = wait_for(lambda r=repro, g=stage: r.workers(g), "the gate workers")
        os.killpg(repro.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        code, out = repro.finish()
        if code != 0 or "interrupted" in out:
            break
        # on a loaded machine the 15 frames' gate can end between the workers appearing and the interrupt landing
        # (its last pool winding down): that run tested nothing, so the gate runs again
    assert code != 0, out
    assert "facecast gate: interrupted; its outputs were left as they were" in out, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert_gone([stage, *workers])
    assert not list((project / "data").glob(".swapped.*.tmp"))  # swap ran again and swept what it had left


CHANGED_HERE = ("workers:", "reuse_swap_measures:")  # how the stages ran, not what they made


def card_without_workers(dataset: Path) -> list[str]:
    """The dataset card's lines but the ``workers`` and ``gate.reuse_swap_measures`` parameters (the card records
    the parameters, and the tests changed how many workers ran and whether the gate measured again, nothing else)."""
    text = (dataset / "DATASET_CARD.md").read_text()
    return [line for line in text.splitlines() if not any(key in line for key in CHANGED_HERE)]


def test_repro_after_the_faults_gives_the_uninterrupted_dataset(project, reference, tiny_project):
    run_in(["dvc", "repro"], project)
    assert not temporaries(project)
    dataset = project / "data" / "dataset"
    got = digests(dataset)
    assert {k: v for k, v in got.items() if k != CARD} == {k: v for k, v in reference.items() if k != CARD}
    assert card_without_workers(dataset) == card_without_workers(tiny_project.root / "data" / "dataset")
    assert "Data and pipelines are up to date" in run_in(["dvc", "status"], project).stdout


def test_a_write_failure_is_one_line_and_keeps_the_old_output(project):
    """The stage run by hand, as DVC would, under a file size limit (``ulimit -f``) it cannot write within."""
    before = digests(project / "data" / "dataset")
    proc = subprocess.run(
        ["bash", "-c", "ulimit -f 8 && exec python stages/manifest.py"],
        cwd=project,
        env=environ(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("facecast manifest: data/dataset/images: could not be written: "), proc.stderr
    assert "File too large" in lines[-1] and "Traceback" not in proc.stderr
    assert digests(project / "data" / "dataset") == before
    assert not temporaries(project)
    assert "Data and pipelines are up to date" in run_in(["dvc", "status"], project).stdout
