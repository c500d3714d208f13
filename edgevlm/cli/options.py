"""Every command-line option that more than one command takes, declared once: one flag, one help text.

bench, run, devices, build and serve call these instead of repeating `typer.Option(...)`; a command that needs
a different default passes it (the help stays the same). Numeric bounds are here too, so each command refuses
a negative count the same way (exit 2, before anything runs).
"""
from __future__ import annotations

from typing import Any

import typer

HELP = {
    "device": "device profile name (devices/*.toml, ~/.config/edgevlm/devices); `host` is this machine",
    "serial": "adb serial (default: the profile's, or the only device)",
    "host": "ssh host or user@host (default: the profile's)",
    "bundle": "an already built bundle (any folder written by `edgevlm build`) instead of the target's",
    "quant": "which LLM quant in MODEL_DIR (when several)",
    "threads": "CPU threads (0: the profile's; all cores on the host)",
    "json": "also write the record(s) to this JSON file",
    "store": "results store: SQLite file or postgresql:// URL (default: $EDGEVLM_STORE)",
    "wait": "when another edgevlm command holds the device: wait for it (default), or exit 3 (--no-wait)",
    "image": "PNG/JPEG to ask about",
    "model_dir": "a converted model folder (edgevlm convert output)",
    "jobs": "parallel compile jobs (default: all cores)",
    "temp": "sampling temperature (0: greedy)",
    "seed": "sampling seed (with --temp > 0)",
}


def device(default: Any = None) -> Any:
    return typer.Option(default, "--device", help=HELP["device"])


def serial() -> Any:
    return typer.Option(None, "--serial", help=HELP["serial"])


def host() -> Any:
    return typer.Option(None, "--host", help=HELP["host"])


def bundle() -> Any:
    return typer.Option(None, "--bundle", help=HELP["bundle"])


def quant() -> Any:
    return typer.Option(None, "--quant", help=HELP["quant"])


def threads() -> Any:
    return typer.Option(0, "--threads", "-t", min=0, help=HELP["threads"])


def json_out() -> Any:
    return typer.Option(None, "--json", help=HELP["json"])


def store() -> Any:
    return typer.Option(None, "--store", help=HELP["store"])


def wait() -> Any:
    return typer.Option(True, "--wait/--no-wait", help=HELP["wait"])


def image(extra: str = "") -> Any:
    return typer.Option(None, "--image", help=HELP["image"] + extra)


def model_dir() -> Any:
    return typer.Argument(..., help=HELP["model_dir"])


def jobs() -> Any:
    return typer.Option(None, "--jobs", "-j", min=1, help=HELP["jobs"])


def temp() -> Any:
    return typer.Option(0.0, "--temp", min=0.0, help=HELP["temp"])


def seed() -> Any:
    return typer.Option(0, "--seed", help=HELP["seed"])


