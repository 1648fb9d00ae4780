"""Stage swap: every face rendered as its cast identity, or obscured when it cannot be swapped well."""

from pathlib import Path

from facecast import stage
from facecast.params import load
from facecast.swap.stage import swap


def main() -> None:
    p = load("swap")
    swap(
        p.swap,
        interim=Path("data/interim"),
        cast_dir=Path("data/cast"),
        out=Path("data/swapped"),
        metrics=Path("metrics/swap.json"),
    )


if __name__ == "__main__":
    stage.run("swap", main)
