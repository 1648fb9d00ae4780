"""WebDataset tar shards (facecast.io.shards): what the webdataset package reads, byte-identical rewrites, members
read back at their recorded offsets, and keys WebDataset would split refused."""

from __future__ import annotations

import pytest
import webdataset

from facecast.io.shards import ShardWriter, iter_samples, json_part, read_member, write_shards

SAMPLES = [
    (f"clip__v0__c0__{i:06d}", {"jpg": bytes([i]) * (37 + 700 * i), "json": json_part({"i": i})}) for i in range(7)
]


def test_shards_hold_every_sample_in_order_and_webdataset_reads_them(tmp_path):
    members = write_shards(tmp_path, "train", 3, SAMPLES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-000000.tar", "train-000001.tar", "train-000002.tar"]
    read = list(webdataset.WebDataset(str(tmp_path / "train-{000000..000002}.tar"), shardshuffle=False))
    assert [s["__key__"] for s in read] == [k for k, _ in SAMPLES]
    assert [(s["jpg"], s["json"]) for s in read] == [(p["jpg"], p["json"]) for _, p in SAMPLES]
    assert [k for k, _ in iter_samples(tmp_path / "train-000001.tar")] == [k for k, _ in SAMPLES[3:6]]
    assert len(members) == 2 * len(SAMPLES)
    for member, (key, parts) in zip(members[::2], SAMPLES):
        assert member.name == f"{key}.jpg" and read_member(tmp_path, member) == parts["jpg"]


def test_the_same_samples_make_the_same_bytes(tmp_path):
    write_shards(tmp_path / "a", "s", 4, SAMPLES)
    write_shards(tmp_path / "b", "s", 4, SAMPLES)
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


@pytest.mark.parametrize("key", ["clip.mp4__000001", "a/b"])
def test_a_key_webdataset_would_split_is_refused(tmp_path, key):
    with ShardWriter(tmp_path, "s", 2) as writer, pytest.raises(ValueError, match="may not contain"):
        writer.add(key, {"jpg": b"x"})


def test_a_shard_shorter_than_its_index_is_an_error(tmp_path):
    members = write_shards(tmp_path, "s", 10, SAMPLES)
    path = tmp_path / members[-2].shard
    path.write_bytes(path.read_bytes()[: members[-2].offset + 5])
    with pytest.raises(OSError, match="shorter than its index"):
        read_member(tmp_path, members[-2])
