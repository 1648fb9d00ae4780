"""The `facecast` command."""

from __future__ import annotations

import sys

import click

from facecast import __version__


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


@main.command("params")
@click.argument("path", default="params.yaml", type=click.Path(dir_okay=False))
def params_cmd(path: str) -> None:
    """Validate every section of PATH (default params.yaml)."""
    from facecast.errors import ParamsError
    from facecast.params import load_all

    try:
        sections = load_all(path)
    except ParamsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(f"{path}: valid ({', '.join(sections)})")
