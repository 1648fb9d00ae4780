"""Pseudonymous ids: a keyed hash of the original subject or clip id.

The key is the project's secret (:mod:`facecast.manifest.secret`), never the
``seed``: the same subject gets the same pseudonym in every release made with
the same key, and nobody holding the published dataset, ``params.yaml`` and
``dvc.lock`` can reverse it, even when the original ids are guessable (P001,
P002, ...).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from facecast.errors import InputError

HEX_DIGITS = 12  # 48 bits: a collision among a million ids has odds of about 1 in 560
PREFIX = {"subject": "S", "clip": "C"}


def pseudonym(kind: str, original: str, key: bytes) -> str:
    """The kind's letter and the first hex digits of HMAC-SHA256(key, kind, original)."""
    digest = hmac.new(key, f"facecast.{kind}\x1f{original}".encode(), hashlib.sha256).hexdigest()
    return PREFIX[kind] + digest[:HEX_DIGITS]


def pseudonyms(kind: str, originals: Iterable[str], key: bytes) -> dict[str, str]:
    """original -> pseudonym for every distinct id; two ids that would share a pseudonym are an error."""
    out = {s: pseudonym(kind, s, key) for s in sorted(set(originals))}
    if len(set(out.values())) != len(out):
        seen: dict[str, list[str]] = {}
        for original, p in out.items():
            seen.setdefault(p, []).append(original)
        clash = [ids for ids in seen.values() if len(ids) > 1][0]
        raise InputError(f"{kind}s {', '.join(clash)} hash to the same pseudonym; start a new pseudonym key")
    return out
