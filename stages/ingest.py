"""Stage ingest: validate and index the footage under input.root; never modify it."""

from pathlib import Path

from facecast import stage
from facecast.ingest import ingest
from facecast.params import load


def main() -> None:
    p = load("input", "ingest")
    ingest(Path(p.input.root), p.ingest, interim=Path("data/interim"), metrics=Path("metrics/ingest.json"))


if __name__ == "__main__":
    stage.run("ingest", main)
