"""Turn what the device binaries print into metric samples (names from edgevlm.store.metrics)."""
from __future__ import annotations

import json
import re
from typing import Any

from edgevlm.errors import DeviceError
from edgevlm.store.metrics import (DECODE_TPS, IMAGE_ENCODE_MS, LOAD_MS, PEAK_ANON_MB, PEAK_FILE_MB, PEAK_RSS_MB,
                                   PROJECTOR_MS, PROMPT_TPS, TTFT_MS, VIT_MS)

# edgevlm-run --json keys that are metrics (same names as the store's)
RUN_METRICS = (LOAD_MS, VIT_MS, PROJECTOR_MS, IMAGE_ENCODE_MS, PROMPT_TPS, DECODE_TPS, TTFT_MS, PEAK_RSS_MB,
               PEAK_ANON_MB, PEAK_FILE_MB)


def _load(text: str, where: str, tool: str, kind: type) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeviceError(f"{where}: {tool} wrote invalid JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(data, kind):
        raise DeviceError(f"{where}: {tool} JSON must be {'an object' if kind is dict else 'a list'}")
    return data


def parse_run_json(text: str, where: str) -> dict[str, Any]:
    return _load(text, where, "edgevlm-run", dict)


def run_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The metric values of one edgevlm-run record; absent/null ones (text-only runs have no ViT) are left out."""
    out = {}
    for name in RUN_METRICS:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            out[name] = float(value)
    return out


# llama-mtmd-cli at the pinned commit logs "mtmd batch encoding done in 28 ms" once per image batch (ViT +
# projector of every slice); older builds logged "image slice encoded in 1234 ms" per slice.
MTMD_BATCH_DONE = re.compile(r"mtmd batch encoding done in (\d+(?:\.\d+)?) ms")
MTMD_SLICE = re.compile(r"image slice encoded in (\d+(?:\.\d+)?) ms")


def mtmd_encode_ms(log: str) -> float | None:
    """Stock image encode ms from a llama-mtmd-cli log (None when the log has no encode line)."""
    for pattern in (MTMD_BATCH_DONE, MTMD_SLICE):
        matches = pattern.findall(log)
        if matches:
            return sum(float(m) for m in matches)
    return None


def llama_bench_tests(text: str, where: str) -> list[dict[str, Any]]:
    return _load(text, where, "llama-bench", list)
