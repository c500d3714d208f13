"""The `edgevlm` command line: a thin layer over the Python API.

Each command lives in its own module that defines ``register(app)``; this module only assembles them
and turns typed errors into a one-line message and an exit code (2 for user errors), never a traceback.
"""
from __future__ import annotations

import importlib
import sys
import threading

import typer
from rich.console import Console
from rich.markup import escape as rich_escape

from edgevlm.errors import EdgeVLMError, VerificationFailed
from edgevlm.interrupt import Handled, exit_code, signal_name

# Order here is the order `edgevlm --help` lists them: the pipeline, left to right.
COMMAND_MODULES = (
    "synth", "convert", "verify", "encode_image", "run", "build", "devices",
    "bench", "serve", "results", "report", "lab", "doctor", "demo",
)

err_console = Console(stderr=True, soft_wrap=True)  # one line per error, whatever the width


def make_app() -> typer.Typer:
    app = typer.Typer(
        name="edgevlm",
        help="MobileVLM from a Hugging Face checkpoint to a measured deployment on edge devices.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"edgevlm.cli.{name}").register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    # SIGTERM and SIGHUP end a command like Ctrl-C, through its clean-up (edgevlm.interrupt)
    handled = Handled() if threading.current_thread() is threading.main_thread() else None
    try:
        _main(argv, handled)
    finally:
        if handled is not None:
            handled.restore()


def _main(argv: list[str] | None, handled: Handled | None) -> None:
    app = make_app()
    try:
        # In click's non-standalone mode a typer.Exit(code) is returned, not raised.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(handled.exit_code(code) if handled else code)
    except EdgeVLMError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except VerificationFailed as exc:
        err_console.print(f"[bold red]verification failed:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        err_console.print(f"interrupted ({signal_name(exc)})")
        sys.exit(exit_code(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        if isinstance(exc, _usage_errors()):
            exc.show()
            sys.exit(2)
        raise


def _usage_errors() -> tuple[type, ...]:
    """click's usage-error base class: typer 0.2x vendors click as typer._click (its errors are not
    click.ClickException), older typer uses click itself."""
    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except ImportError:
            continue
    return tuple(found)


def escape(text: str) -> str:
    return rich_escape(text)
