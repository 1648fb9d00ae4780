"""What every stage script shares: its parameters loaded, logging set up, and one clear line instead of a
traceback when the input is bad, an output cannot be written or the run is interrupted.

``stages/<stage>.py`` is two lines: it calls :func:`main` with the stage's
name. The stage package's ``stage.py`` holds ``SECTIONS`` (the sections of
``params.yaml`` it reads) and ``run(params)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import time
from pathlib import Path

from facecast import tables
from facecast.errors import InputError, ParamsError, TableError
from facecast.io.atomic import sweep_tree
from facecast.params import load

log = logging.getLogger("facecast")


def setup_logging(verbose: int) -> None:
    """Warnings only by default; ``-v`` adds what each stage did, ``-vv`` the details."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _one_line(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split())


def main(stage: str, argv: list[str] | None = None) -> None:
    """Run stage ``stage`` (``facecast.<stage>.stage.run``) on ``params.yaml``; bad input ends it with one
    message and exit code 2, an interruption with exit code 130."""
    parser = argparse.ArgumentParser(prog=f"stages/{stage}.py", description=f"facecast stage {stage}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="say what the stage does (-vv: more)")
    parser.add_argument("--params", default="params.yaml", help="the parameters file (default params.yaml)")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    start = time.perf_counter()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`, a CI timeout: stop as Ctrl-C does
    try:
        swept = sweep_tree([Path("data"), tables.METRICS, tables.PLOTS, tables.REPORTS])
        log.debug("looked for leftovers of interrupted runs beside %d output(s)", len(swept))
        module = importlib.import_module(f"facecast.{stage}.stage")
        figures = module.run(load(*module.SECTIONS, path=args.params))
    except (ParamsError, TableError, InputError) as exc:
        print(f"facecast {stage}: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # OutputError names the output; any other says what the system refused
        print(f"facecast {stage}: {_one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"facecast {stage}: interrupted; its outputs were left as they were", file=sys.stderr)
        sys.exit(130)
    log.info("%s done in %.1f s", stage, time.perf_counter() - start)
    log.debug("%s figures: %s", stage, json.dumps(figures, default=str, sort_keys=True))
