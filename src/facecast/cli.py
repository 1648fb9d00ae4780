"""The `facecast` command."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from facecast import __version__

if TYPE_CHECKING:
    from facecast.params import SampleParams


@click.group()
@click.version_option(__version__, prog_name="facecast")
@click.option("-v", "--verbose", count=True, help="log what facecast does (-vv: more)")
def main(verbose: int) -> None:
    """facecast: recast face datasets with synthetic identities, and prove the result."""
    from facecast.runner import setup_logging

    setup_logging(verbose)


@main.command()
def doctor() -> None:
    """Load every model from its package, print versions, and say what is missing."""
    from facecast.doctor import run_checks

    results = run_checks()
    width = max(len(c.name) for c in results)
    for c in results:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "miss")
        click.echo(f"{mark}  {c.name:<{width}}  {c.detail}")
        if not c.ok:
            click.echo(f"      {'':<{width}}  fix: {c.fix}")
    failed = [c for c in results if c.required and not c.ok]
    if failed:
        click.echo(f"\n{len(failed)} required component(s) missing: {', '.join(c.name for c in failed)}", err=True)
        sys.exit(1)
    click.echo("\nall required components load")


def _frame_sizes(sample: SampleParams) -> tuple[list[tuple[int, int]], str]:
    """The frame sizes augment.policy is checked on: those of the ingested clips when ingest has run here,
    else the embedded default's; and where they come from."""
    from facecast import tables
    from facecast.errors import TableError

    where = tables.location("clips", tables.INTERIM)
    try:
        clips = tables.read_df("clips", tables.INTERIM)
        ok = clips[clips["status"] == "ok"].dropna(subset=["width", "height"])
        sizes = sorted({(int(w), int(h)) for w, h in zip(ok["width"], ok["height"])})
    except TableError:
        sizes = []
    if sizes:
        return sizes, f"the frame sizes of the ingested clips, {where}"
    default = (sample.frame_width, sample.frame_height)
    return [default], f"sample.frame_width x frame_height: no ingested clips in {where}"


@main.command("params")
@click.argument("path", default="params.yaml", type=click.Path(dir_okay=False))
def params_cmd(path: str) -> None:
    """Validate every section of PATH (default params.yaml), and check augment.policy as stage augment does."""
    from facecast.augment import policy
    from facecast.errors import InputError, ParamsError
    from facecast.params import load_all

    try:
        sections = load_all(path)
        sizes, where = _frame_sizes(sections["sample"])
        policy.check(sections["augment"].policy, sizes)
    except (ParamsError, InputError) as exc:  # a ParamsError names the file; the policy's InputError does not
        click.echo(str(exc) if isinstance(exc, ParamsError) else f"{path}: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{path}: valid ({', '.join(sections)})")
    click.echo(f"augment.policy checked on {', '.join(f'{w}x{h}' for w, h in sizes)} ({where})")
