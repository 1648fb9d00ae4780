"""The published dataset as WebDataset tar shards besides its loose images (``manifest.shards``).

Each split's images, in manifest order, go into ``data/dataset/shards/<split>-NNNNNN.tar``,
``manifest.shard_images`` per shard: ``<key>.jpg`` (the published file's very bytes) and ``<key>.json`` (its row of
``manifest/frames.parquet``). The row records its shard and key (``shard``, ``shard_key``), so either layout can be
read from the manifest. A few thousand shards carry a million frames: DVC hashes, pushes and pulls them as that
many files, not a million (README, "Data layout").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facecast.io.shards import ShardWriter, json_part

SHARDS = "shards"  # the folder, relative to the dataset


def shard_key(row: dict) -> str:
    """The WebDataset key of a row: clip, variant, copy and frame (no dot or slash, which WebDataset splits at)."""
    clip = str(row["clip_id"]).replace("%", "%25").replace(".", "%2E").replace("/", "%2F")
    return f"{clip}__v{row['variant']}__c{row['copy']}__{int(row['frame_idx']):06d}"


def _plain(value: Any) -> Any:
    """A manifest row's values as JSON holds them (arrays as lists, tuples as lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_dataset_shards(rows: list[dict], images: Path, shards: Path, per_shard: int) -> None:
    """Write every row's image (``images``: the folder the rows' ``image`` paths, ``images/...``, lie in) into the
    shards of its split under ``shards``; sets each row's ``shard`` and ``shard_key``."""
    by_split: dict[str, list[dict]] = {}
    for row in rows:
        by_split.setdefault(row["split"], []).append(row)
    for split in sorted(by_split):
        seen: set[str] = set()
        with ShardWriter(shards, split, per_shard) as writer:
            for row in by_split[split]:
                key = shard_key(row)
                if key in seen:
                    raise ValueError(f"two published images share the shard key {key} in split {split}")
                seen.add(key)
                data = (images / row["image"].removeprefix("images/")).read_bytes()
                meta = _plain({k: v for k, v in row.items() if k not in ("shard", "shard_key")})
                kind = Path(row["image"]).suffix.lstrip(".").lower()  # jpg: what swap and augment write
                member = writer.add(key, {kind: data, "json": json_part(meta)})[0]
                row["shard"], row["shard_key"] = f"{SHARDS}/{member.shard}", key
