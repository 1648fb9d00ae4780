"""Frames kept in a few large files instead of one file each: WebDataset-style tar shards.

A shard is a plain POSIX tar whose members are grouped by key: ``<key>.jpg`` (the encoded image, as it was)
and ``<key>.json`` (what is known of it), members of one key side by side. It is what the ``webdataset``
package, Hugging Face ``datasets`` (``load_dataset("webdataset", data_files=...)``) and PyTorch data loaders read
without unpacking, and what DVC hashes, pushes and pulls as one file.

Shards are written deterministically (members in the order given, times, owners and modes fixed), so the same
frames make byte-identical shards and DVC sees no change. A key may not contain a dot (WebDataset splits the
member name at the first dot of its base name).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Member:
    shard: str  # file name of the shard, relative to the folder the writer wrote in
    name: str  # member name inside it
    offset: int  # byte offset of the member's data in the shard
    size: int


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class ShardWriter:
    """``add(key, {extension: bytes})`` into ``<folder>/<prefix>-000000.tar``, a new shard every ``per_shard``
    keys; ``members`` lists where each member's bytes lie (to read one back without scanning the shard)."""

    def __init__(self, folder: Path, prefix: str, per_shard: int):
        if per_shard < 1:
            raise ValueError("per_shard must be at least 1")
        self.folder, self.prefix, self.per_shard = Path(folder), prefix, per_shard
        self.folder.mkdir(parents=True, exist_ok=True)
        self.members: list[Member] = []
        self.shards: list[str] = []
        self._tar: tarfile.TarFile | None = None
        self._keys = 0

    def add(self, key: str, parts: dict[str, bytes]) -> list[Member]:
        if "." in key or "/" in key:
            raise ValueError(f"shard key {key!r} may not contain '.' or '/'")
        if self._tar is None or self._keys == self.per_shard:
            self._roll()
        assert self._tar is not None
        added = []
        for ext, data in parts.items():
            info = _info(f"{key}.{ext}", len(data))
            start = self._tar.offset + len(info.tobuf(tarfile.USTAR_FORMAT, self._tar.encoding, self._tar.errors))
            self._tar.addfile(info, io.BytesIO(data))
            added.append(Member(self.shards[-1], info.name, start, len(data)))
        self.members.extend(added)
        self._keys += 1
        return added

    def _roll(self) -> None:
        self.close()
        name = f"{self.prefix}-{len(self.shards):06d}.tar"
        self.shards.append(name)
        self._tar = tarfile.open(self.folder / name, "w", format=tarfile.USTAR_FORMAT)
        self._keys = 0

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_shards(folder: Path, prefix: str, per_shard: int, samples: Iterable[tuple[str, dict[str, bytes]]]) -> list:
    """Write ``samples`` (key, parts) as shards; returns every member's location, in order."""
    with ShardWriter(folder, prefix, per_shard) as writer:
        for key, parts in samples:
            writer.add(key, parts)
    return writer.members


def read_member(folder: Path, member: Member) -> bytes:
    """One member's bytes, read at its offset."""
    with open(Path(folder) / member.shard, "rb") as f:
        f.seek(member.offset)
        data = f.read(member.size)
    if len(data) != member.size:
        raise OSError(f"{Path(folder) / member.shard}: shorter than its index says ({member.name})")
    return data


def iter_samples(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) of one shard, in order, as a WebDataset reader groups them."""
    key: str | None = None
    parts: dict[str, bytes] = {}
    with tarfile.open(path, "r") as tar:
        for info in tar:
            if not info.isfile():
                continue
            base = info.name.rsplit("/", 1)[-1]
            stem, _, ext = base.partition(".")
            if stem != key and key is not None:
                yield key, parts
                parts = {}
            key = stem
            handle = tar.extractfile(info)
            assert handle is not None
            parts[ext] = handle.read()
    if key is not None:
        yield key, parts


def json_part(value: dict) -> bytes:
    """A sample's ``.json`` member: sorted keys, UTF-8, so the same values make the same bytes."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
