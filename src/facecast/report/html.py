"""The page's templates (``report/templates``) and the filters they format values with.

The environment autoescapes: every value a template prints is HTML-escaped
unless it is :class:`~markupsafe.Markup`, which only markup the report builds
itself is: the SVG charts of :mod:`facecast.report.svg`, the image data URIs of
:mod:`facecast.report.images`, and what :func:`render` returns (a rendered
section, whose values were escaped when it was rendered).
"""

from __future__ import annotations

import re
from numbers import Integral

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


def pct(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * float(value):.1f} %"


def num(value, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def text(value, default: str = "n/a") -> str:
    """A table value as text; null (None or NaN) as ``default``."""
    return default if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def count(value) -> str:
    """An integer with thousands separators (``1,234``); anything else as :func:`text`."""
    return f"{value:,}" if isinstance(value, Integral) else text(value)


def anchor(value: str) -> str:
    """``value`` as a fragment id: every character outside ``[A-Za-z0-9_-]`` as ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", value)


def stat(metrics: dict, key: str, name: str):
    """``metrics[key][name]``; None where the metrics have no such block or statistic."""
    block = metrics.get(key)
    return block.get(name) if isinstance(block, dict) else None


ENV = Environment(
    loader=PackageLoader("facecast.report", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters.update(pct=pct, num=num, text=text, count=count, anchor=anchor, stat=stat)


def render(template: str, **context) -> Markup:
    """The template rendered with ``context``; safe to print in another one."""
    return Markup(ENV.get_template(template).render(**context))
