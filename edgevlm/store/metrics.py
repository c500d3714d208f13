"""The metrics edgevlm records, each defined once with its unit and which direction is better.

A metric's direction drives the report: for ``lower`` metrics (milliseconds, megabytes) a rise is a
regression; for ``higher`` metrics (tokens per second) a drop is.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from edgevlm.errors import StoreError

Direction = Literal["lower", "higher"]
LOWER: Direction = "lower"
HIGHER: Direction = "higher"

IMAGE_ENCODE_MS = "image_encode_ms"
VIT_MS = "vit_ms"
PROJECTOR_MS = "projector_ms"
PROMPT_TPS = "prompt_tps"
DECODE_TPS = "decode_tps"
TTFT_MS = "ttft_ms"
PEAK_RSS_MB = "peak_rss_mb"
PEAK_ANON_MB = "peak_anon_mb"
PEAK_FILE_MB = "peak_file_mb"
LOAD_MS = "load_ms"
WARM_TTFT_MS = "warm_ttft_ms"
WARM_FOLLOWUP_TTFT_MS = "warm_followup_ttft_ms"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    better: Direction
    description: str
    deterministic: bool = False   # counted, not timed (the arm64 cost model): one run a side decides


# The arm64 cost model's metrics (edgevlm.armcost, device profile arm64-sim): executed instructions and estimated
# cycles per stage of the android-arm64 bundle under qemu. Same bundle + same input -> the same value.
ARM_STAGES = ("vision_load", "vit", "projector", "llm_load", "prefill", "decode", "total")
ARM_COUNTS = (("insns", "insns", "executed aarch64 instructions"),
              ("x1_cycles", "cycles", "estimated Cortex-X1 cycles (llvm-mca)"),
              ("a78_cycles", "cycles", "estimated Cortex-A78 cycles (llvm-mca)"))


def arm_metric_name(count: str, stage: str) -> str:
    return f"arm_{count}_{stage}"


METRICS = MappingProxyType({m.name: m for m in (
    Metric(IMAGE_ENCODE_MS, "ms", LOWER, "image encode, ViT + projector"),
    Metric(VIT_MS, "ms", LOWER, "vision transformer"),
    Metric(PROJECTOR_MS, "ms", LOWER, "LDP/LDPv2 projector"),
    Metric(PROMPT_TPS, "tok/s", HIGHER, "prompt evaluation throughput"),
    Metric(DECODE_TPS, "tok/s", HIGHER, "decode throughput"),
    Metric(TTFT_MS, "ms", LOWER, "time to first token, load included"),
    Metric(PEAK_RSS_MB, "MB", LOWER, "peak resident memory"),
    Metric(PEAK_ANON_MB, "MB", LOWER, "peak anonymous resident memory (what a phone cannot reclaim)"),
    Metric(PEAK_FILE_MB, "MB", LOWER, "peak file-backed resident memory (mapped files, reclaimable)"),
    Metric(LOAD_MS, "ms", LOWER, "model load time"),
    Metric(WARM_TTFT_MS, "ms", LOWER, "time to first token through edgevlm serve, model loaded, a new image"),
    Metric(WARM_FOLLOWUP_TTFT_MS, "ms", LOWER,
           "time to first token through edgevlm serve, a follow-up question about the same image"),
    *(Metric(arm_metric_name(count, stage), unit, LOWER, f"{what}, {stage.replace('_', ' ')}", deterministic=True)
      for stage in ARM_STAGES for count, unit, what in ARM_COUNTS),
)})


def get_metric(name: str) -> Metric:
    """The metric called exactly ``name``; a clear error listing the known ones otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise StoreError(f"unknown metric {name!r}", hint=f"known metrics: {', '.join(METRICS)}") from None
