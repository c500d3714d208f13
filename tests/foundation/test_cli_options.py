"""cli/options.py's `command`: a typer command built from a dataclass and the option table parses flags,
bool switches and bounds as a hand-written signature would, and hands the body one typed object."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from typer.testing import CliRunner

from edgevlm.cli import options as opt


@dataclass(frozen=True)
class Args:
    model_dir: Path
    threads: int
    wait: bool
    repeat: int


def _app(seen: list) -> typer.Typer:
    app = typer.Typer()
    local = {"repeat": opt.Opt(int, 5, "measured repetitions", ("--repeat",), min=1)}

    @opt.command(app, "go", Args, local)
    def go(a: Args) -> None:
        """Go."""
        seen.append(a)

    @app.command("other")
    def other() -> None:   # two commands: typer keeps the subcommand names
        pass
    return app


def test_flags_switches_and_defaults_reach_one_object():
    seen: list[Args] = []
    result = CliRunner().invoke(_app(seen), ["go", "m", "--no-wait", "-t", "3"])
    assert result.exit_code == 0, result.output
    assert seen == [Args(model_dir=Path("m"), threads=3, wait=False, repeat=5)]


def test_bounds_refuse_before_the_body_runs():
    seen: list[Args] = []
    result = CliRunner().invoke(_app(seen), ["go", "m", "--repeat", "0"])
    assert result.exit_code == 2 and seen == []


def test_help_shows_the_table_rows():
    result = CliRunner().invoke(_app([]), ["go", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in (opt.OPTIONS["threads"].help, opt.OPTIONS["wait"].help[:40], "measured repetitions", "Go."):
        assert text in result.output
