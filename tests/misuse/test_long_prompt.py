"""Item 2 / 10: a prompt beyond the model's context is refused before any of it is evaluated (exit 2, one line,
no traceback, nothing left running).

Before: a 26,000-character prompt with `run --device host` ran (exit 0, ~20,000 prompt tokens on the tiny
model, whose trained context is 2048). Only edgevlm-run tokenizes the prompt, so it refuses with its own exit
code (kernels/runtime/exits.h) and the Python side maps that code to exit 2 with the binary's one-line reason.
Real binaries (the host build) and a real converted tiny model; the misuse Env keeps locks and scratch private.
"""
from __future__ import annotations

import re
import subprocess
import uuid

import pytest

from edgevlm.bench.bounds import run_exit_codes
from tests.misuse.conftest import wait_gone

pytestmark = pytest.mark.native

REFUSAL = re.compile(r"^error: prompt is (\d+) tokens(?: \(144 of them the image's\))?, the model's context is 2048 "
                     r"\(with -n 4\): shorten it or ask for fewer tokens \(-n\)$")


def _long_prompt(marker: str) -> str:
    """26,000 characters that start with `marker`, a word no other process has in its command line."""
    return (f"{marker} " + "what is in the picture? " * 1100)[:26000]


def _one_refusal_line(result: subprocess.CompletedProcess) -> int:
    """Exit 2, exactly one error line (the refusal), no traceback; the prompt's token count it states."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr[-2000:]
    match = REFUSAL.match(errors[0].strip())
    assert match, errors[0]
    return int(match.group(1))


@pytest.fixture(scope="module")
def model(converted):
    return converted("tiny-v2")


def test_run_on_the_host_device_refuses_a_prompt_beyond_the_context(env, model, native_bin):
    marker = f"m{uuid.uuid4().hex}"
    result = env.run("run", str(model), "--device", "host", "--bundle", str(native_bin), "-p", _long_prompt(marker),
                     "-n", "4")
    assert _one_refusal_line(result) > 2048
    assert wait_gone(marker) == []                  # no edgevlm-run (nor its shell) left with the prompt
    assert not list(env.tmp.rglob("*.json"))        # the session's scratch is gone with it


def test_run_on_this_host_refuses_it_too(env, model, native_bin):
    """Without --device the same stages run in-process (the Python Runtime over the C ABI)."""
    env.vars["EDGEVLM_BUILD_DIR"] = str(native_bin.parents[1])
    result = env.run("run", str(model), "-p", _long_prompt("x"), "-n", "4")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "prompt is" in lines[0] and "the model's context is 2048" in lines[0], lines


def test_a_prompt_within_the_context_still_runs(env, model, native_bin):
    result = env.run("run", str(model), "--device", "host", "--bundle", str(native_bin), "-p", "hi", "-n", "4")
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("extra, limit", [((), "the model's context is 2048"), (("-c", "512"), "the context (-c) is 512")])
def test_edgevlm_run_exits_with_the_code_python_maps(model, native_bin, test_image, extra, limit):
    """The binary's code is the one bounds.py reads from exits.h (with an image: its 144 rows counted)."""
    llm = next(p for p in model.glob("*.gguf") if not p.name.startswith("mmproj-"))
    mmproj = next(model.glob("mmproj-*.gguf"))
    proc = subprocess.run([str(native_bin / "edgevlm-run"), "-m", str(llm), "--mmproj", str(mmproj), "--image",
                           str(test_image), "-p", _long_prompt("x"), "-n", "4", *extra],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == run_exit_codes()["BEYOND_CONTEXT"] != 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "(144 of them the image's)" in lines[0] and limit in lines[0], proc.stderr
