"""Pseudonymous subject ids: a keyed hash of the original subject id.

The key is derived from the pipeline's ``seed``, so the same subject gets the
same pseudonym in every run with the same ``params.yaml``, and nobody holding
only the published dataset can reverse it, even when the original ids are
guessable (P001, P002, ...). The dataset card therefore never prints the seed.
"""

from __future__ import annotations

import hashlib
import hmac

from facecast.errors import InputError

HEX_DIGITS = 12  # 48 bits: a collision among a million subjects has odds of about 1 in 560


def subject_key(seed: int) -> bytes:
    return hashlib.sha256(f"facecast.manifest.subject:{seed}".encode()).digest()


def pseudonym(subject_id: str, key: bytes) -> str:
    """'S' and the first hex digits of HMAC-SHA256(key, subject_id)."""
    return "S" + hmac.new(key, subject_id.encode(), hashlib.sha256).hexdigest()[:HEX_DIGITS]


def pseudonyms(subject_ids, seed: int) -> dict[str, str]:
    """subject id -> pseudonym for every distinct id; two ids that would share a pseudonym are an error."""
    key = subject_key(seed)
    out = {s: pseudonym(s, key) for s in sorted(set(subject_ids))}
    if len(set(out.values())) != len(out):
        clash = sorted(s for s in out if list(out.values()).count(out[s]) > 1)
        raise InputError(f"subjects {', '.join(clash)} hash to the same pseudonym; change `seed` in params.yaml")
    return out
