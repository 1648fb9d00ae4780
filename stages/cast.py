"""Stage cast: synthetic identities under demographic quotas, and who plays every face track."""

from pathlib import Path

from facecast import stage
from facecast.cast.stage import cast
from facecast.params import load


def main() -> None:
    p = load("input", "cast")
    cast(
        Path(p.input.donors),
        p.cast,
        p.seed,
        interim=Path("data/interim"),
        out=Path("data/cast"),
        metrics=Path("metrics/cast.json"),
    )


if __name__ == "__main__":
    stage.run("cast", main)
