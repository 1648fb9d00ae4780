"""Stage manifest: publish the frames that passed gate (and their augmented copies) in subject-grouped splits,
with Parquet manifests, a dataset card and metrics/dataset.json."""

from pathlib import Path

from facecast import stage
from facecast.dataset.stage import manifest
from facecast.params import load, load_all


def main() -> None:
    p = load("manifest", "input", "cast")
    recipe = {name: section.model_dump(mode="json") if hasattr(section, "model_dump") else section for name, section in load_all().items()}
    manifest(
        p.manifest,
        p.seed,
        p.cast,
        recipe,
        donors_dir=Path(p.input.donors),
        interim=Path("data/interim"),
        cast_dir=Path("data/cast"),
        swapped=Path("data/swapped"),
        augmented=Path("data/augmented"),
        metrics_dir=Path("metrics"),
        out=Path("data/dataset"),
        metrics=Path("metrics/dataset.json"),
    )


if __name__ == "__main__":
    stage.run("manifest", main)
