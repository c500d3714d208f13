"""What a device is: model, SoC, cores with max frequencies, memory, OS / Android / L4T version, governor.

The probe is devices/helpers/fingerprint.sh, run through any transport; it prints key=value lines and every
probe in it is optional, so the same script serves a phone, a Jetson and a Linux host.
"""
from __future__ import annotations

from collections import Counter

from edgevlm.device.transport import Transport
from edgevlm.paths import devices_dir


def probe_script() -> str:
    return (devices_dir() / "helpers" / "fingerprint.sh").read_text()


def fingerprint(transport: Transport) -> dict[str, str]:
    result = transport.shell(probe_script(), timeout=60, check=True)
    values = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and value.strip():
            values[key.strip()] = value.strip()
    return summarize(values)


def summarize(raw: dict[str, str]) -> dict[str, str]:
    """The raw probe plus the fields `edgevlm devices` shows (model, soc, cores, memory, os, governor)."""
    out = dict(raw)
    android = raw.get("android_release")
    out["model"] = raw.get("android_model") or raw.get("dt_model") or raw.get("cpu_model", "")
    out["soc"] = raw.get("android_soc") or raw.get("android_platform") or raw.get("cpu_model", "")
    out["os"] = (f"Android {android} (SDK {raw.get('android_sdk', '?')})" if android
                 else raw.get("l4t") and f"L4T {raw['l4t']}" or raw.get("os") or raw.get("kernel", ""))
    out["cores"] = cores_summary(raw.get("cpu_count", ""), raw.get("cpu_max_khz", ""))
    kb = raw.get("mem_total_kb", "")
    out["memory"] = f"{int(kb) / 1024 / 1024:.1f} GiB" if kb.isdigit() else ""
    out["governor"] = raw.get("governor", "")
    return out


def cores_summary(count: str, max_khz: str) -> str:
    """'8 cores: 4x1.80 + 3x2.42 + 1x2.84 GHz' from 'cpu:khz' pairs (grouped by frequency, in order)."""
    freqs = [int(pair.split(":")[1]) for pair in max_khz.split() if pair.count(":") == 1
             and pair.split(":")[1].isdigit()]
    if not freqs:
        return f"{count} cores" if count else ""
    groups = Counter(freqs)
    parts = " + ".join(f"{n}x{khz / 1e6:.2f}" for khz, n in sorted(groups.items()))
    return f"{count or len(freqs)} cores: {parts} GHz"
