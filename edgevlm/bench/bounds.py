"""Bounds checked before any work: sizes the model's context cannot hold are refused up front, with exit 2,
instead of asking ggml for tens of GB (or the kernel's OOM killer ending the run at 23 GB RSS).

The context is the LLM GGUF's `<arch>.context_length` (what the model was trained for; edgevlm-run's
context is prompt + n_predict unless -c says otherwise, so a request beyond it cannot be served correctly).
Whether the KV cache of an allowed request fits the device's memory is edgevlm-run's own check.
"""
from __future__ import annotations

import math
from pathlib import Path

from edgevlm.errors import BadOption

# A question about an image holds at least the image's tokens (MobileVLM's LDP: 144 from 576 patches) + BOS.
MIN_IMAGE_PROMPT_TOKENS = 145


def context_length(gguf_file: Path) -> int | None:
    """The LLM's trained context from its GGUF header, None when the file is not a GGUF we can read (the run
    itself reports that)."""
    try:
        from gguf import GGUFReader

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
