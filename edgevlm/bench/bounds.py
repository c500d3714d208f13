"""Bounds checked before any work: sizes the model's context cannot hold are refused up front, with exit 2,
instead of asking ggml for tens of GB (or the kernel's OOM killer ending the run at 23 GB RSS).

The context is the LLM GGUF's `<arch>.context_length` (what the model was trained for; edgevlm-run's
context is prompt + n_predict unless -c says otherwise, so a request beyond it cannot be served correctly).
Whether the KV cache of an allowed request fits the device's memory is edgevlm-run's own check, and so is the
prompt's length in tokens (only edgevlm-run tokenizes it): it refuses a prompt beyond the context with its own
exit code (kernels/runtime/exits.h), which `refusal()` turns into exit 2 here.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

from gguf import GGUFReader

from edgevlm.errors import BadOption
from edgevlm.paths import kernels_dir

# A question about an image holds at least the image's tokens (MobileVLM's LDP: 144 from 576 patches) + BOS.
MIN_IMAGE_PROMPT_TOKENS = 145


def context_length(gguf_file: Path) -> int | None:
    """The LLM's trained context from its GGUF header, None when the file is not a GGUF we can read (the run
    itself reports that)."""
    try:
        reader = GGUFReader(str(gguf_file))
        arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
        field = reader.fields.get(f"{arch}.context_length")
        return int(field.parts[-1][0]) if field is not None else None
    except Exception:        # noqa: BLE001 — any unreadable header: no bound known here, the run says why
        return None


def check_tokens(context: int | None, *, prompt_tokens: int, gen_tokens: int, what: str) -> None:
    """prompt + generated tokens within the context."""
    if context is not None and prompt_tokens + gen_tokens > context:
        raise BadOption(f"{what}: {prompt_tokens} prompt + {gen_tokens} generated tokens exceed the model's "
                        f"context of {context} tokens", hint=f"ask for at most {context} tokens in all")


def check_temperature(temp: float) -> float:
    if not math.isfinite(temp) or temp < 0:
        raise BadOption(f"--temp must be a finite number >= 0 (0: greedy), got {temp}")
    return temp


# `#define EDGEVLM_EXIT_NAME N` lines of edgevlm-run's exit codes (their one home)
_EXIT_DEFINE = re.compile(r"^#define EDGEVLM_EXIT_(\w+) (\d+)\b", re.MULTILINE)


@lru_cache(maxsize=1)
def run_exit_codes() -> dict[str, int]:
    """edgevlm-run's exit codes by name (FAILURE, BEYOND_CONTEXT), read from kernels/runtime/exits.h."""
    header = kernels_dir() / "runtime" / "exits.h"
    codes = {name: int(code) for name, code in _EXIT_DEFINE.findall(header.read_text())}
    if "BEYOND_CONTEXT" not in codes:
        raise RuntimeError(f"{header} defines no EDGEVLM_EXIT_BEYOND_CONTEXT")
    return codes


def refusal(code: int, stderr: str) -> BadOption | None:
    """The bad-input error of an edgevlm-run that refused its request (a prompt beyond the context), with the
    binary's own one-line reason; None for any other exit."""
    if code != run_exit_codes()["BEYOND_CONTEXT"]:
        return None
    lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("error:")]
    reason = lines[-1].removeprefix("error:").strip() if lines else "the prompt is beyond the model's context"
    return BadOption(reason)
