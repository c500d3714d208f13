"""The CLI surface: every command of the product is listed; user errors exit 2 with one line, no traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from edgevlm.cli import COMMAND_MODULES

PRODUCT_COMMANDS = ("synth", "convert", "verify", "encode-image", "run", "build", "devices", "bench",
                    "results", "report", "doctor")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgevlm", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_help_lists_every_product_command():
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    for command in PRODUCT_COMMANDS:
        assert command in proc.stdout, f"`edgevlm --help` does not list {command}"


def test_every_command_module_registers():
    assert {name.replace("_", "-") for name in COMMAND_MODULES} >= set(PRODUCT_COMMANDS)


@pytest.mark.parametrize("command", PRODUCT_COMMANDS)
def test_each_command_has_help(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, f"{command} --help failed: {proc.stderr}"


def test_doctor_reports_pin_and_tools():
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stderr
    assert "0c1e57098" in proc.stdout
    for tool in ("cmake", "adb", "qemu-aarch64-static", "nvcc"):
        assert tool in proc.stdout
    assert "edgevlm kernels" in proc.stdout  # SIMD path and int8 dot product of the host build


@pytest.mark.parametrize("args", [("run",), ("convert",), ("synth", "tiny-v2", "--format", "pickle")])
def test_usage_errors_exit_2_without_traceback(args):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip(), "the usage error says what is wrong"


def test_unknown_build_target_is_a_user_error():
    proc = run_cli("build", "--target", "toaster")
    assert proc.returncode == 2
    assert "unknown build target 'toaster'" in proc.stderr
    assert "Traceback" not in proc.stderr
