"""The pseudonym key: from FACECAST_SECRET, else a private key file the first run creates and every later run reads."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from facecast.errors import InputError
from facecast.manifest.secret import ENV, load_key


def test_the_first_run_creates_a_private_random_key_and_later_runs_read_it(tmp_path, caplog):
    path = tmp_path / ".facecast" / "secret.key"
    first = load_key(path, environ={})
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "created a new pseudonym key" in caplog.text
    assert load_key(path, environ={}) == first
    assert load_key(tmp_path / "other.key", environ={}) != first  # random, not derived from anything


def test_runs_that_start_together_share_one_key(tmp_path):
    path = tmp_path / "secret.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_key(path, environ={}), range(32)))
    assert len(keys) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_the_environment_wins_over_the_file(tmp_path):
    path = tmp_path / "secret.key"
    assert load_key(path, environ={ENV: "x" * 40}) == b"x" * 40
    assert not path.exists()
    assert load_key(path, environ={ENV: ""}) == load_key(path, environ={})  # empty (an unset CI secret): the file


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("not hex at all\n", {}, "expected the pseudonym key as 64 hex digits"),
        ("abcd\n", {}, "expected the pseudonym key as 64 hex digits"),
        (None, {ENV: "short"}, f"{ENV}: expected at least 32 characters"),
    ],
)
def test_a_bad_key_is_one_clear_error(tmp_path, content, env, message):
    path = tmp_path / "secret.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_key(path, environ=env)
