"""Stage ``sample``: the embedded default dataset built from the openpeople subjects."""

from facecast.sample.stage import build_sample

__all__ = ["build_sample"]
