"""Stage augment: label-preserving albumentations copies of every frame that passed gate, faces moved with them."""

from pathlib import Path

from facecast import stage
from facecast.augment.stage import augment
from facecast.params import load


def main() -> None:
    p = load("augment")
    augment(
        p.augment,
        p.seed,
        interim=Path("data/interim"),
        swapped=Path("data/swapped"),
        out=Path("data/augmented"),
        metrics=Path("metrics/augment.json"),
    )


if __name__ == "__main__":
    stage.run("augment", main)
