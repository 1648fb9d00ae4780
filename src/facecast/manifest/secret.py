"""The project's pseudonym key: a secret that is never in the repository, the parameters, the lock file or the
published dataset.

The key comes from the environment variable ``FACECAST_SECRET`` when it is set
(at least 32 characters; ``openssl rand -hex 32`` makes a good one), otherwise
from ``.facecast/secret.key`` in the project, which the first run creates with
32 random bytes (mode 0600; git- and DVC-ignored). The same key gives the same
pseudonyms in every release; a new key gives new ones that cannot be linked to
the old. Whoever holds the key and the original ids can recompute every
pseudonym, so it is kept as a team keeps any other secret.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from facecast.errors import InputError

ENV = "FACECAST_SECRET"
KEY_FILE = Path(".facecast") / "secret.key"
MIN_ENV_CHARS = 32
KEY_BYTES = 32

log = logging.getLogger(__name__)


def _read(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise InputError(
            f"{path}: expected the pseudonym key as {2 * KEY_BYTES} hex digits; restore it from where the team "
            f"keeps it, or delete the file to start a new key (new pseudonyms, unlinkable to the old)"
        )
    return key


def _create(path: Path) -> bytes:
    """A new random key in ``path``, unless another run created one first (then that one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    try:
        os.link(tmp, path)  # fails if the key exists: two first runs end up with the same key
        log.warning(
            "created a new pseudonym key in %s: keep it with the team's secrets (it is not in git or DVC); "
            "the next release needs it to give the same pseudonyms",
            path,
        )
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def load_key(path: Path = KEY_FILE, environ: Mapping[str, str] = os.environ) -> bytes:
    """The pseudonym key: from ``FACECAST_SECRET``, else ``path``, else a new random key written to ``path``."""
    value = environ.get(ENV, "")
    if value.strip():  # set and not empty (CI expands a secret that is not configured to "")
        if len(value.strip()) < MIN_ENV_CHARS:
            raise InputError(
                f"{ENV}: expected at least {MIN_ENV_CHARS} characters of secret (e.g. `openssl rand -hex 32`), "
                f"got {len(value.strip())}"
            )
        return value.strip().encode()
    try:
        mode = path.stat().st_mode  # one look: another run may create the file at any moment
    except FileNotFoundError:
        return _create(path)
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: expected the pseudonym key file, found something else")
    return _read(path)
