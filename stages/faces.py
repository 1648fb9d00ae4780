"""Stage faces: detect, landmark, track and embed every face of every clip and donor image."""

from pathlib import Path

from facecast import stage
from facecast.faces.pipeline import analyse
from facecast.params import load


def main() -> None:
    p = load("input", "faces")
    analyse(Path(p.input.donors), p.faces, interim=Path("data/interim"), metrics=Path("metrics/faces.json"))


if __name__ == "__main__":
    stage.run("faces", main)
