"""Device temperature: read the profile's thermal zones, wait (bounded) for the device to cool between runs.

Zones are sysfs files in millidegrees Celsius; the hottest readable zone counts. A device that exposes none
reports None, and the gate never waits on it (the run is then never flagged, and the record says why).
"""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Callable

from edgevlm.device.profiles import ThermalSettings
from edgevlm.device.transport import Transport


def read_temp_c(transport: Transport, zones: tuple[str, ...]) -> float | None:
    if not zones:
        return None
    quoted = " ".join(shlex.quote(z) for z in zones)
    out = transport.shell(f"for z in {quoted}; do cat \"$z\" 2>/dev/null || echo x; done").stdout.split()
    values = [int(v) / 1000.0 for v in out if v.lstrip("-").isdigit()]
    return max(values) if values else None


@dataclass(frozen=True)
class Cooldown:
    start_c: float | None
    end_c: float | None
    waited_s: float
    gave_up: bool          # still above the cool-down temperature when the wait bound ran out


def wait_cool(transport: Transport, thermal: ThermalSettings, *, poll_s: float = 2.0,
              sleep: Callable[[float], None] = time.sleep) -> Cooldown:
    """Poll until below thermal.cooldown_c, at most thermal.cooldown_max_s."""
    start = now = read_temp_c(transport, thermal.zones)
    started = time.monotonic()
    while now is not None and now > thermal.cooldown_c:
        if time.monotonic() - started >= thermal.cooldown_max_s:
            return Cooldown(start, now, time.monotonic() - started, True)
        sleep(min(poll_s, max(0.0, thermal.cooldown_max_s - (time.monotonic() - started))))
        now = read_temp_c(transport, thermal.zones)
    return Cooldown(start, now, time.monotonic() - started, False)


def is_throttled(thermal: ThermalSettings, temp_after_c: float | None, cooldown: Cooldown) -> bool:
    """Flag a run that ended hot, or that started hot because the cool-down bound ran out."""
    hot_end = temp_after_c is not None and temp_after_c >= thermal.throttle_c
    return hot_end or cooldown.gave_up
