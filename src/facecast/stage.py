"""What every stage script shares: clear errors instead of tracebacks for bad input."""

from __future__ import annotations

import sys
from typing import Callable

from facecast.params import ParamsError
from facecast.tables import TableError


class InputError(ValueError):
    """The user's input (footage, labels, donors) cannot be used as it is."""


def run(stage: str, fn: Callable[[], object]) -> None:
    """Run a stage body; a known kind of bad input ends it with one clear message and exit code 2."""
    try:
        fn()
    except (ParamsError, TableError, InputError) as exc:
        print(f"facecast {stage}: {exc}", file=sys.stderr)
        sys.exit(2)
