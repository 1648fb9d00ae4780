"""The project's exceptions: each names what is wrong so a stage can stop with one clear line.

A stage script (:mod:`facecast.runner`) turns :class:`ParamsError`,
:class:`TableError`, :class:`InputError`, :class:`OutputError` and any other
``OSError`` into one message and exit code 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """The user's input (footage, labels, donors) cannot be used as it is."""


class ParamsError(ValueError):
    """params.yaml is missing, malformed or holds a value the stage cannot use."""


class TableError(ValueError):
    """A table file is missing or does not match its contract."""


class OutputError(OSError):
    """An output could not be written (a full disk, a file size limit, no permission); the previous output,
    if any, is unchanged."""


class ModelMissing(RuntimeError):
    """A model file or the package that ships it is not installed."""
