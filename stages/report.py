"""Stage report: reports/index.html (internal: it shows original faces) and the dataset's plot data."""

from pathlib import Path

from facecast import stage
from facecast.params import load
from facecast.report.stage import report


def main() -> None:
    p = load("report")
    report(
        p.report,
        dataset=Path("data/dataset"),
        interim=Path("data/interim"),
        cast_dir=Path("data/cast"),
        swapped=Path("data/swapped"),
        metrics=Path("metrics"),
        plots=Path("plots"),
        out=Path("reports"),
        plot_out=Path("plots/dataset"),
    )


if __name__ == "__main__":
    stage.run("report", main)
