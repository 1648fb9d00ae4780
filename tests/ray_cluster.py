"""A real two-node Ray cluster on 127.0.0.1 running a project's stages (tests/test_ray_executor.py runs this file).

Run it inside new network, PID and mount namespaces (``unshare --net --pid --fork --kill-child --mount-proc``):
the network namespace has only its loopback, so every socket the cluster opens is on 127.0.0.1 and nothing of
it is reachable from the machine's other interfaces (``ray start --node-ip-address=127.0.0.1`` alone still
makes Ray 2.60 advertise the machine's address: its ``resolve_ip_for_localhost``); the PID namespace ends
every process of the cluster when this script ends, however it ends.

    python tests/ray_cluster.py [--nodes N] PROJECT TEMP_DIR COMMAND...

starts a head node and a second worker node (``--nodes``: N nodes in all, default 2; one CPU each, no dashboard,
Ray's files under TEMP_DIR), writes
``executor: {kind: ray, address: 127.0.0.1:<port>}`` into PROJECT/params.yaml, runs COMMAND in PROJECT, prints
one JSON line (the nodes, every listening address of the cluster, COMMAND's exit code and output), stops the
cluster and exits with COMMAND's exit code (3 when the cluster did not start).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import yaml

PORT = 6380  # any port: the namespace is this script's own
NODES = """
import json, logging, ray
ray.init(address="127.0.0.1:{port}", logging_level=logging.ERROR, log_to_driver=False)
print(json.dumps([dict(alive=n["Alive"], address=n["NodeManagerAddress"], cpus=n["Resources"].get("CPU"))
                  for n in ray.nodes()]))
"""  # the cluster's nodes, as a driver sees them


def ray(*args: str) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).parent / "ray"
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=180)


def listening() -> list[str]:
    """Every TCP address a process of this namespace listens on."""
    return sorted(
        {f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    )


def main(project: Path, temp: Path, command: list[str], nodes: int = 2) -> int:
    if not (Path(sys.executable).parent / "ray").is_file():
        print(json.dumps({"started": [], "output": f"no ray command beside {sys.executable}: pip install ray"}))
        return 3
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    started = [ray("start", "--head", f"--port={PORT}", "--include-dashboard=false", f"--temp-dir={temp}", *common)]
    while len(started) < nodes and started[-1].returncode == 0:
        started.append(ray("start", f"--address=127.0.0.1:{PORT}", *common))
    report: dict = {"started": [s.returncode for s in started]}
    if len(started) < nodes or any(s.returncode != 0 for s in started):
        report["output"] = "".join(s.stdout + s.stderr for s in started)[-4000:]
        print(json.dumps(report))
        return 3
    try:
        params_file = project / "params.yaml"
        params = yaml.safe_load(params_file.read_text())
        params["executor"] = {"kind": "ray", "address": f"127.0.0.1:{PORT}", "cpus_per_task": 1.0}
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        seen = subprocess.run([sys.executable, "-c", NODES.format(port=PORT)], capture_output=True, text=True)
        report["nodes"] = json.loads(seen.stdout) if seen.returncode == 0 else seen.stderr[-2000:]
        proc = subprocess.run(command, cwd=project, capture_output=True, text=True)
        report.update(listening=listening(), code=proc.returncode, output=(proc.stdout + proc.stderr)[-6000:])
    finally:
        report["stop"] = ray("stop", "--force").returncode
    print(json.dumps(report))
    return int(report["code"])


if __name__ == "__main__":
    argv = sys.argv[1:]
    n = 2
    if argv[:1] == ["--nodes"]:
        n, argv = int(argv[1]), argv[2:]
    sys.exit(main(Path(argv[0]), Path(argv[1]), argv[2:], n))
