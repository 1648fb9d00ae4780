"""Folders the user names (``input.root``, ``input.donors``, ``clips/``): present, and folders."""

from __future__ import annotations

from pathlib import Path

from facecast.errors import InputError


def require_folder(path: Path, what: str) -> Path:
    """``path`` if it is a folder; else an :class:`InputError` saying whether it is missing or something else."""
    if path.is_dir():
        return path
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    kind = "a file" if path.is_file() else "not a folder"
    raise InputError(f"{path}: {what} is {kind}, expected a folder")
