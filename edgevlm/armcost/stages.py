"""Stage ids and names: read from kernels/include/edgevlm_stage.h, their one home."""
from __future__ import annotations

import re
from functools import lru_cache

from edgevlm.errors import CostModelError
from edgevlm.paths import kernels_dir

_ENUM = re.compile(r"EDGEVLM_STAGE_([A-Z_]+)\s*=\s*(\d+)")


@lru_cache(maxsize=1)
def stage_ids() -> dict[str, int]:
    """{"startup": 0, "vision_load": 1, ...} without the COUNT sentinel."""
    header = kernels_dir() / "include" / "edgevlm_stage.h"
    try:
        text = header.read_text(encoding="utf-8")
    except OSError as e:
        raise CostModelError(f"cannot read the stage ids from {header}: {e.strerror}") from None
    ids = {name.lower(): int(v) for name, v in _ENUM.findall(text) if name != "COUNT"}
    if not ids:
        raise CostModelError(f"{header} defines no EDGEVLM_STAGE_* ids")
    return ids


def stage_names() -> dict[int, str]:
    return {v: k for k, v in stage_ids().items()}
