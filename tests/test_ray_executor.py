"""The Ray executor on a real two-node Ray cluster on 127.0.0.1: the tiny project's faces, swap, gate and evaluate
(and every stage after them) run on the cluster and make byte-identical outputs to the local run.

The cluster lives in its own network, PID and mount namespaces (tests/ray_cluster.py says why): nothing of it
listens beyond 127.0.0.1, and it is gone when the test is, whatever happens. Making namespaces needs root (or
unprivileged user namespaces); where the kernel refuses, the test is skipped and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import environ, lock_outputs

pytestmark = pytest.mark.slow

HELPER = Path(__file__).with_name("ray_cluster.py")
NAMESPACES = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
TIMED = ("wall_s", "clips_wall_s", "frames_per_s", "images_per_s", "seconds")  # how long the run took: may differ


def _untimed(value):
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in TIMED}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _outputs(root: Path) -> dict[str, str]:
    """Every output of ``root/dvc.lock`` with its md5; metrics (JSON) compared without their timings."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    out = {}
    for entry in lock["stages"].values():
        for o in entry.get("outs", []):
            path = root / o["path"]
            if path.suffix == ".json" and path.is_file():
                out[o["path"]] = json.dumps(_untimed(json.loads(path.read_text())), sort_keys=True)
            else:
                out[o["path"]] = o["md5"]
    return out


def _namespaces_allowed() -> str | None:
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    probe = subprocess.run([*NAMESPACES, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"this kernel refused new namespaces ({' '.join(probe.stderr.split())})"
    return None


@pytest.fixture(scope="module")
def ray_run(tiny_project, tmp_path_factory) -> tuple[Path, dict, int]:
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[test]' installs it")
    refused = _namespaces_allowed()
    if refused:
        pytest.skip(f"the Ray cluster cannot be started on 127.0.0.1 only: {refused}")
    project = tiny_project.copy_to(tmp_path_factory.mktemp("ray") / "project")
    temp = Path(tempfile.mkdtemp(prefix="fcray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        proc = subprocess.run(
            [
                *NAMESPACES,
                sys.executable,
                str(HELPER),
                str(project),
                str(temp),
                "dvc",
                "repro",
                "--force",
                "faces",
                "--downstream",
            ],
            capture_output=True,
            text=True,
            env=environ(),
            timeout=1200,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the cluster helper printed no report ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(lines[-1])
    if proc.returncode == 3:
        pytest.skip(f"Ray could not start on this machine: {report['output'][-600:]}")
    return project, report, proc.returncode


def test_the_pipeline_runs_on_the_cluster(ray_run):
    project, report, code = ray_run
    assert code == 0, report["output"]
    nodes = report["nodes"]  # the head and the second node, both alive, one CPU each, both on 127.0.0.1
    assert nodes == [{"alive": True, "address": "127.0.0.1", "cpus": 1.0}] * 2, nodes
    for stage in ("faces", "swap", "gate", "evaluate", "manifest"):
        assert f"Running stage '{stage}'" in report["output"], report["output"]


def test_every_address_the_cluster_used_is_loopback(ray_run):
    _, report, _ = ray_run
    assert report["listening"], report
    assert all(a.startswith(("127.0.0.1:", "::ffff:127.0.0.1:", "::1:")) for a in report["listening"]), report


def test_outputs_are_byte_identical_to_the_local_run(ray_run, tiny_project):
    project, _, code = ray_run
    assert code == 0
    assert lock_outputs(project) == lock_outputs(tiny_project.root)
    ray_outputs, local_outputs = _outputs(project), _outputs(tiny_project.root)
    differ = sorted(k for k in local_outputs if ray_outputs.get(k) != local_outputs[k])
    assert not differ, f"outputs that differ between the Ray and the local run: {differ}"
    manifests = sorted((project / "data" / "dataset" / "manifest").glob("*.parquet"))
    assert manifests
    for path in manifests:
        local = tiny_project.root / path.relative_to(project)
        assert path.read_bytes() == local.read_bytes(), path.name
