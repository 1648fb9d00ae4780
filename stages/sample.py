"""Stage sample: build the embedded default (clips, labels, subjects, donors) from openpeople."""

from pathlib import Path

from facecast import stage
from facecast.io.atomic import atomic_dir
from facecast.params import load
from facecast.sample import build_sample


def main() -> None:
    p = load("sample")
    with atomic_dir(Path("data/sample")) as out:
        build_sample(p.sample, p.seed, out)


if __name__ == "__main__":
    stage.run("sample", main)
