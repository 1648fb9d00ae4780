"""Stage gate: measure every swapped face (de-identification, landmarks, expression, leaks) and pass or reject it."""

from pathlib import Path

from facecast import stage
from facecast.params import load
from facecast.quality.stage import gate


def main() -> None:
    p = load("gate")
    gate(
        p.gate,
        interim=Path("data/interim"),
        cast_dir=Path("data/cast"),
        swapped=Path("data/swapped"),
        metrics=Path("metrics/gates.json"),
        plots=Path("plots"),
    )


if __name__ == "__main__":
    stage.run("gate", main)
