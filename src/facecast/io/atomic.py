"""Atomic outputs: write next to the destination, rename into place when done.

A temporary name is ``.<name>.<pid>.<random>.tmp`` beside the output. A run killed
before it could clean up (``kill -9``, a power cut) leaves such a file or folder
behind; the next write of the same output removes every one whose process is no
longer alive, so leftovers never pile up and a concurrent run's work in progress
is never touched. A write that fails (a full disk, ``ulimit -f``) raises
:class:`~facecast.errors.OutputError` naming the output, and leaves the output as
it was.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from facecast.errors import OutputError

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def leftovers(path: str | Path) -> list[Path]:
    """Temporary files and folders of ``path`` left by writers that are no longer running (and a stale
    ``.<name>.old`` of :func:`atomic_dir` when no writer of ``path`` is running)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    found, running = [], False
    for entry in path.parent.iterdir():
        m = _TEMP.match(entry.name)
        if m and m["name"] == path.name:
            pid = int(m["pid"])
            if pid != os.getpid() and _alive(pid):  # another run's work in progress
                running = True
            else:
                found.append(entry)
    old = path.with_name(f".{path.name}.old")
    if old.exists() and not running:
        found.append(old)
    return found


def sweep(path: str | Path) -> None:
    """Remove what :func:`leftovers` finds for ``path``."""
    for entry in leftovers(path):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def sweep_tree(roots: list[Path], depth: int = 2) -> list[Path]:
    """Remove every writer's leftovers (any output's) in ``roots`` and their sub-folders down to ``depth``
    levels; returns the outputs whose leftovers were looked at. A stage calls it when it starts, so a leftover
    goes with the next run of any stage, not only of the one that left it."""
    names: set[Path] = set()
    level = [r for r in roots if r.is_dir()]
    for _ in range(depth + 1):
        below = []
        for folder in level:
            for entry in folder.iterdir():
                m = _TEMP.match(entry.name)
                if m:
                    names.add(folder / m["name"])
                elif entry.name.startswith(".") and entry.name.endswith(".old"):
                    names.add(folder / entry.name[1:-4])
                elif entry.is_dir() and not entry.is_symlink() and not entry.name.startswith("."):
                    below.append(entry)
        level = below
    for path in sorted(names):
        sweep(path)
    return sorted(names)


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _failed(path: Path, exc: OSError) -> OutputError:
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)
    return OutputError(f"{path}: could not be written: {reason}{where}; the previous output, if any, is unchanged")


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    An exception (or an interrupted run) leaves ``path`` as it was and removes
    the temporary folder. The folder gets the mode ``mkdir`` would give
    (0777 less the umask), not ``mkdtemp``'s private 0700: outputs are shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, usual_file_mode() | 0o111)
        try:
            yield tmp
        except OSError as exc:
            raise _failed(path, exc) from exc
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file name beside ``path`` (the file exists, empty); on success it replaces ``path``
    with the mode ``open()`` would give."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path)
    fd, name = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            yield tmp
        except OSError as exc:
            raise _failed(path, exc) from exc
        os.chmod(tmp, usual_file_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def usual_file_mode() -> int:
    """0666 less the umask: the mode ``open()`` would give; ``mkstemp`` creates 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (metrics files)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
