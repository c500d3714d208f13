"""The CUDA compiler from NVIDIA's PyPI wheels (nvidia-cuda-nvcc + runtime + crt + nvvm + cccl, the `test`
extra), for the jetson-orin configure-and-compile check on machines without CUDA installed. A system nvcc is
deliberately not used: the check must not depend on what one machine happens to have."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def wheel_cuda_root() -> Path | None:
    """site-packages/nvidia/cu13 when the wheels are installed and nvcc is in it, else None."""
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(root) / "cu13"
        if (candidate / "bin" / "nvcc").is_file():
            return candidate
    return None


def wheel_nvcc() -> Path | None:
    root = wheel_cuda_root()
    return root / "bin" / "nvcc" if root else None
