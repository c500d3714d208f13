"""What a command asks of a device, in one object: which device (and how to reach it), which model and bundle,
how many threads, which image. bench, `run --device`, `serve` and the lab's cells build one and hand it to
`prepare`, instead of threading a dozen loose arguments through every layer.

Paths are made absolute here, against the caller's working directory, so a relative MODEL_DIR or --image means
what the user typed on every device (the local device runs its commands after a `cd` into the bundle).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgevlm.artifact import find_model
from edgevlm.device.profiles import load_profile
from edgevlm.errors import InputNotFound


@dataclass(frozen=True)
class DeviceRequest:
    device: str                           # profile name (devices/*.toml)
    model_dir: Path
    serial: str | None = None             # adb serial override
    host: str | None = None               # ssh [user@]host override
    quant: str | None = None              # which LLM quant in model_dir, when several
    bundle_dir: Path | None = None        # an already built bundle instead of the target's
    threads: int = 0                      # 0: the profile's
    image: Path | None = None             # None: the default picture (unless no_image)
    no_image: bool = False
    wait: bool = True                     # device busy: wait for it (False: DeviceBusy, exit 3)
    transport: Any = field(default=None, compare=False)   # an already connected Transport (lab, tests)
    bundle: Any = field(default=None, compare=False)      # an already resolved Bundle (lab payloads, tests)
    lock: Any = field(default=None, compare=False)        # the device's lock, already held (the lab's pick)

    def __post_init__(self) -> None:
        for name in ("model_dir", "bundle_dir", "image"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, absolute(value))
        if self.threads < 0:
            raise InputNotFound(f"threads must be at least 1 (or 0: the profile's), got {self.threads}")

    def but(self, **changes: Any) -> "DeviceRequest":
        return replace(self, **changes)


def absolute(path: str | Path) -> Path:
    """The path against the caller's working directory (symlinks kept: a model folder may be a link)."""
    return Path(path).expanduser().absolute()


def with_device_quant(req: DeviceRequest) -> DeviceRequest:
    """No --quant: the device profile's [model].quant when MODEL_DIR holds that LLM (the sd888 profile names the
    quant with the best time to first answer); otherwise the folder's own rule (its manifest's, or its only LLM)."""
    if req.quant:
        return req
    wanted = load_profile(req.device).model.quant
    if not wanted:
        return req
    try:
        find_model(req.model_dir, wanted)
    except InputNotFound:
        return req
    return req.but(quant=wanted)
