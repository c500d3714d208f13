"""Published figures shown beside a bench on the devices they were measured on (REFERENCE.md): the MobileVLM
team's own llama.cpp runs (MobileVLM 1.7B, LLM Q4_K_S, mmproj f16, 246 prompt tokens of which 144 image
tokens). Shown in the bench table, labelled as published; never stored as our results."""
from __future__ import annotations

from edgevlm.store.metrics import DECODE_TPS, IMAGE_ENCODE_MS, METRICS, PROMPT_TPS

SOURCE = "published"
CAPTION = ("published: the MobileVLM team's own llama.cpp figures (MobileVLM 1.7B, Q4_K_S) on this kind of "
           "device, from the papers - not measured by this run")
WORKLOAD = "img144+p246"

# profile name -> {metric: value}, by exact name
PUBLISHED = {
    "sd888": {IMAGE_ENCODE_MS: 21149.0, PROMPT_TPS: 19.7, DECODE_TPS: 14.1},   # Snapdragon 888, 4 threads, V1-1.7B
    "orin": {IMAGE_ENCODE_MS: 297.0, PROMPT_TPS: 802.0, DECODE_TPS: 65.6},    # Jetson Orin, all layers on the GPU
}


def published_rows(device: str) -> list[tuple[str, ...]]:
    """Rows for the bench table (source, workload, metric, value, unit, n, flags)."""
    return [(SOURCE, WORKLOAD, metric, f"{value:.2f}", METRICS[metric].unit, "-", "published")
            for metric, value in PUBLISHED.get(device, {}).items()]
