"""The page shell and its small building blocks; every piece of text goes through :func:`html.escape`."""

from __future__ import annotations

from html import escape
from typing import Iterable, Sequence

CSS = """
:root { --ink: #1d232b; --muted: #5b6570; --line: #dde1e6; --bg: #f4f5f7; --card: #fff; --warn: #9b1c1c; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header.top { background: #1d232b; color: #fff; padding: 22px 32px 18px; }
header.top h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; }
header.top p { margin: 0; color: #c9d1da; }
.internal { background: #fdecec; border: 2px solid var(--warn); color: var(--warn); border-radius: 8px;
            padding: 14px 18px; margin: 20px 0 8px; font-size: 15px; }
.internal strong { font-size: 17px; letter-spacing: .02em; }
nav { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid var(--line);
      padding: 8px 32px; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 14px; }
nav a { color: #2a5ca8; text-decoration: none; } nav a:hover { text-decoration: underline; }
main { max-width: 1280px; margin: 0 auto; padding: 0 24px 48px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 26px; margin: 22px 0; }
section > h2 { margin: 0 0 6px; font-size: 21px; }
h3 { font-size: 17px; margin: 26px 0 6px; } h3 code { font-size: 16px; }
.lead { color: var(--muted); margin: 0 0 14px; max-width: 900px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; margin: 12px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fafbfc; }
.card .v { font-size: 26px; font-weight: 650; line-height: 1.2; }
.card .k { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.card .n { font-size: 13px; color: var(--muted); }
.card.good .v { color: #1f6f3a; } .card.bad .v { color: var(--warn); }
table { border-collapse: collapse; margin: 10px 0; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0; } figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; }
.chart { margin: 12px 0 18px; } .chart svg { max-width: 100%; height: auto; }
.sheet { display: grid; grid-template-columns: 4fr 4fr 3fr; gap: 6px 10px; margin: 8px 0 4px; max-width: 900px; }
.sheet .head { font-size: 13px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.sheet img { width: 100%; height: auto; display: block; border-radius: 4px; background: #ddd; }
.sheet .id img { width: auto; max-width: 100%; height: auto; }
.sheet .cap { grid-column: 1 / -1; font-size: 13px; color: var(--muted); margin: 0 0 12px; padding-bottom: 10px;
              border-bottom: 1px dashed var(--line); }
.sheet .noface { display: flex; align-items: center; justify-content: center; border: 1px dashed var(--line);
                 color: var(--muted); border-radius: 4px; min-height: 120px; }
.meta { color: var(--muted); font-size: 14px; margin: 0 0 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; margin: 8px 0 12px; }
.reject { border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #fafbfc; }
.reject img { width: 100%; height: auto; display: block; border-radius: 4px; }
.reject ul { margin: 6px 0 0; padding-left: 18px; font-size: 13px; }
.reject .where { font-size: 13px; font-weight: 600; margin-top: 6px; }
#demographics .grid { grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); }
.identity { border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #fafbfc; font-size: 13px; }
.identity img { width: 100%; height: auto; display: block; border-radius: 4px; }
.identity .name { font-weight: 600; font-size: 14px; margin-top: 4px; }
.missing { color: var(--muted); font-style: italic; }
.pill { display: inline-block; padding: 0 7px; border-radius: 9px; background: #eef1f5; font-size: 12px; }
footer { color: var(--muted); font-size: 13px; max-width: 1280px; margin: 0 auto; padding: 0 24px 40px; }
"""


def e(value: object) -> str:
    return escape(str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[bool] | None = None) -> str:
    """A table of already-escaped cell HTML; ``numeric`` right-aligns those columns."""
    align = [" class='num'" if n else "" for n in (numeric or [False] * len(headers))]
    head = "".join(f"<th{a}>{e(h)}</th>" for a, h in zip(align, headers))
    body = "".join("<tr>" + "".join(f"<td{a}>{c}</td>" for a, c in zip(align, r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card(key: str, value: str, note: str = "", tone: str = "") -> str:
    return f"<div class='card {tone}'><div class='k'>{e(key)}</div><div class='v'>{e(value)}</div><div class='n'>{e(note)}</div></div>"


def chart(svg: str, caption: str) -> str:
    return f"<figure class='chart'>{svg}<figcaption>{e(caption)}</figcaption></figure>"


def img(uri: str, alt: str) -> str:
    return f"<img src='{uri}' alt='{escape(alt, quote=True)}'>"


def section(anchor: str, title: str, lead: str, body: str) -> str:
    return f"<section id='{anchor}'><h2>{e(title)}</h2><p class='lead'>{e(lead)}</p>{body}</section>"


def page(title: str, subtitle: str, warning: str, sections: list[tuple[str, str, str]], footer: str) -> str:
    """The whole document; ``sections`` are (anchor, nav label, section HTML)."""
    nav = "".join(f"<a href='#{a}'>{e(label)}</a>" for a, label, _ in sections)
    body = "".join(html for _, _, html in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
        f"<header class='top'><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main><div class='internal' role='alert'>{warning}</div>{body}</main>"
        f"<footer>{footer}</footer></body></html>\n"
    )
