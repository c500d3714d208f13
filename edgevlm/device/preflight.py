"""Preflight: read the device before anything is pushed; adapt what can be adapted, refuse what cannot.

`check(transport, profile, bundle, model)` runs devices/helpers/preflight.sh on the device (online CPUs, each
core's max frequency / cpu_capacity, CPU features, free memory, free space where the workdir is, thermal zones,
L4T / CUDA) and returns a Preflight: the cores and threads the runs will use (the profile's CPU mask intersected
with the online cores; when none of the mask's cores is online, the fastest online cores; threads never more than
cores), the thermal zones that exist, one-line warnings for every adaptation, and refusals (a dotprod bundle on
a device without dotprod, a model that does not fit in free space or memory). `Preflight.require()` raises
PreflightRefused; `Preflight.apply(profile)` returns the adapted profile. A plain function with a typed result,
so the bench, `edgevlm run --device`, `edgevlm devices --check` and the lab all call the same thing.
"""
from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from edgevlm.device.deploy import plan
from edgevlm.device.profiles import DeviceProfile
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError, PreflightRefused
from edgevlm.paths import devices_dir
from edgevlm.toolchain.targets import machine_of

# -march extensions a bundle is built with -> the /proc/cpuinfo feature the CPU must report (exact names)
ARM_FEATURES = {"dotprod": "asimddp", "fp16": "fphp", "i8mm": "i8mm", "sve": "sve", "sve2": "sve2"}
# weights are mmap'ed and all touched; the KV cache, the ViT's activations and the runtime come on top
MEMORY_HEADROOM = 1.10


@dataclass(frozen=True)
class DeviceFacts:
    machine: str
    online: tuple[int, ...]
    speed: dict[int, tuple[int, int]]        # cpu -> (max kHz, cpu_capacity); 0 where the device does not say
    features: frozenset[str]
    mem_available_bytes: int | None
    disk_free_bytes: int | None
    zones: dict[str, str]                    # thermal zone temp file -> zone type
    l4t: str = ""
    cuda: str = ""

    def fastest(self, n: int) -> tuple[int, ...]:
        """The n fastest online cores (capacity first, then max frequency; ties: the higher-numbered core)."""
        ranked = sorted(self.online, key=lambda c: (self.speed.get(c, (0, 0))[1], self.speed.get(c, (0, 0))[0], c),
                        reverse=True)
        return tuple(sorted(ranked[:n]))


@dataclass(frozen=True)
class Preflight:
    device: str
    facts: DeviceFacts
    cpus: tuple[int, ...]                    # the cores the runs use
    cpu_mask: str                            # taskset mask for them; "" = no pinning
    threads: int
    zones: tuple[str, ...]
    bytes_to_push: int
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()
    # sha256 of each deploy target as the device reported it (None: absent): deploy reuses them instead of
    # hashing a multi-GB model on the phone a second time
    remote_hashes: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def require(self) -> "Preflight":
        if self.refusals:
            raise PreflightRefused(f"{self.device}: " + "; ".join(self.refusals),
                                   hint="nothing was pushed; see `edgevlm devices --check NAME`")
        return self

    def apply(self, profile: DeviceProfile) -> DeviceProfile:
        """The profile with the adapted mask, threads and thermal zones."""
        return replace(profile, run=replace(profile.run, cpu_mask=self.cpu_mask, threads=self.threads),
                       thermal=replace(profile.thermal, zones=self.zones))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["remote_hashes"]    # an internal hand-over to deploy, not part of the report
        out["facts"]["features"] = sorted(self.facts.features)
        out["facts"]["speed"] = {str(k): list(v) for k, v in self.facts.speed.items()}
        return out


def probe(transport: Transport, workdir: str) -> DeviceFacts:
    lines = (devices_dir() / "helpers" / "preflight.sh").read_text().splitlines()
    script = "\n".join(line for line in lines if not line.lstrip().startswith("#"))   # errors name the probe
    result = transport.shell(f": edgevlm preflight probe; sh -c {shlex.quote(script)} preflight "
                             f"{shlex.quote(workdir or '.')}", timeout=60)
    if result.code != 0:
        raise DeviceError(f"{transport.name}: the preflight probe failed ({result.describe()}): "
                          f"{(result.stderr or result.stdout).strip()[-300:]}")
    return parse_facts(result.stdout)


def check(transport: Transport, profile: DeviceProfile, bundle=None, model=None, *, image=None,
          facts: DeviceFacts | None = None) -> Preflight:
    """Read the device (unless `facts` are given) and judge `bundle` (edgevlm.toolchain.bundle.Bundle) and `model`
    (edgevlm.artifact.ModelFolder) against it. Never pushes anything."""
    facts = facts or probe(transport, profile.workdir)
    warnings: list[str] = []
    cpus, mask = _cores(profile, facts, warnings)
    threads = _threads(profile, cpus, warnings)
    zones = _zones(profile, facts, warnings)
    refusals = _bundle_refusals(bundle, facts) if bundle is not None else []
    pending, remote = _pending_bytes(transport, profile, bundle, model, image) if model is not None else (0, {})
    if model is not None:
        refusals += _fit_refusals(model, facts, pending)
    return Preflight(profile.name, facts, cpus, mask, threads, zones, pending, tuple(warnings), tuple(refusals),
                     remote)


# -- parsing -----------------------------------------------------------------------------------------------
def parse_cpu_list(text: str) -> tuple[int, ...]:
    """'0-3,5' -> (0, 1, 2, 3, 5)."""
    cpus: set[int] = set()
    for part in "".join(text.split()).split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise DeviceError(f"cannot read the online CPU list {text!r}")
        cpus.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(cpus))


def mask_cpus(mask: str) -> tuple[int, ...]:
    value = int(mask, 16) if mask else 0
    return tuple(i for i in range(value.bit_length()) if value >> i & 1)


def cpus_mask(cpus: tuple[int, ...]) -> str:
    return format(sum(1 << c for c in cpus), "x") if cpus else ""


def parse_facts(text: str) -> DeviceFacts:
    values: dict[str, str] = {}
    speed: dict[int, tuple[int, int]] = {}
    zones: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.startswith("cpu") and key[3:].isdigit():
            khz, _, capacity = value.partition(":")
            speed[int(key[3:])] = (_int(khz) or 0, _int(capacity) or 0)
        elif key == "zone":
            path, _, rest = value.partition(":")
            zones[path] = rest.partition(":")[0]
        else:
            values[key] = value.strip()
    online = parse_cpu_list(values.get("online", "")) or tuple(sorted(speed)) or \
        tuple(range(_int(values.get("cpuinfo_online", "")) or 1))
    meminfo = values.get("meminfo", "").split()
    available = _after(meminfo, "MemAvailable:")
    return DeviceFacts(values.get("machine", ""), online, speed, frozenset(values.get("features", "").split()),
                       available * 1024 if available is not None else None, _df_free(values.get("df", "")), zones,
                       values.get("l4t", ""), values.get("cuda", ""))


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _after(words: list[str], key: str) -> int | None:
    return _int(words[words.index(key) + 1]) if key in words[:-1] else None


def _df_free(line: str) -> int | None:
    """Available KiB of a `df -k` data line (filesystem, 1K-blocks, used, available, ...) in bytes."""
    numbers = [int(w) for w in line.split()[1:] if w.isdigit()]
    return numbers[2] * 1024 if len(numbers) >= 3 else None


# -- judging -----------------------------------------------------------------------------------------------
def _cores(profile: DeviceProfile, facts: DeviceFacts, warnings: list[str]) -> tuple[tuple[int, ...], str]:
    if not profile.run.cpu_mask:
        return facts.online, ""
    wanted = mask_cpus(profile.run.cpu_mask)
    usable = tuple(c for c in wanted if c in facts.online)
    if usable == wanted:
        return usable, profile.run.cpu_mask
    if usable:
        warnings.append(f"cpu_mask {profile.run.cpu_mask}: cpu{_names(set(wanted) - set(usable))} offline; "
                        f"running on cpu{_names(usable)} (mask {cpus_mask(usable)})")
    else:
        usable = facts.fastest(len(wanted))
        warnings.append(f"cpu_mask {profile.run.cpu_mask}: none of cpu{_names(wanted)} is online; running on the "
                        f"fastest online cores cpu{_names(usable)} (mask {cpus_mask(usable)})")
    return usable, cpus_mask(usable)


def _names(cpus) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _threads(profile: DeviceProfile, cpus: tuple[int, ...], warnings: list[str]) -> int:
    wanted = profile.run.threads
    if wanted == 0:
        return len(cpus)
    if wanted > len(cpus):
        warnings.append(f"threads {wanted} > {len(cpus)} cores in use: running {len(cpus)} threads")
        return len(cpus)
    return wanted


def _zones(profile: DeviceProfile, facts: DeviceFacts, warnings: list[str]) -> tuple[str, ...]:
    present = tuple(z for z in profile.thermal.zones if z in facts.zones)
    if present or not profile.thermal.zones:
        return present or profile.thermal.zones
    if facts.zones:
        found = tuple(sorted(facts.zones))
        warnings.append(f"none of the profile's thermal zones exists; reading {', '.join(found[:4])}"
                        f"{' …' if len(found) > 4 else ''}")
        return found
    warnings.append("the device has no thermal zones: temperatures are not recorded, no run is flagged throttled")
    return ()


def bundle_needs(info: dict, target: str) -> tuple[str, tuple[str, ...], bool]:
    """(machine, CPU features, needs CUDA) a bundle's binaries require, from its build-info.json."""
    defs = info.get("cmake_defs", {})
    arch = str(defs.get("GGML_CPU_ARM_ARCH", ""))
    features = tuple(ARM_FEATURES[ext] for ext in arch.split("+")[1:] if ext in ARM_FEATURES)
    machine = machine_of(target)
    return machine, features, str(defs.get("GGML_CUDA", "")).upper() == "ON"


def _bundle_refusals(bundle, facts: DeviceFacts) -> list[str]:
    machine, features, cuda = bundle_needs(bundle.info, bundle.target)
    out = []
    if machine and facts.machine and facts.machine != machine:
        out.append(f"the {bundle.target} bundle is {machine} code but the device is {facts.machine}")
    missing = [f for f in features if f not in facts.features]
    if missing and facts.machine in ("aarch64", ""):
        arch = bundle.info.get("cmake_defs", {}).get("GGML_CPU_ARM_ARCH")
        out.append(f"the bundle is built for {arch} but the CPU lacks {', '.join(missing)} (/proc/cpuinfo "
                   f"Features); rebuild with a GGML_CPU_ARM_ARCH this CPU has")
    if cuda and not (facts.cuda or facts.l4t):
        out.append("the bundle is a CUDA build but the device reports no CUDA (no L4T, no /usr/local/cuda)")
    return out


def _pending_bytes(transport: Transport, profile: DeviceProfile, bundle, model,
                   image) -> tuple[int, dict[str, str | None]]:
    """Bytes deploy() would push, and the device's hashes of its targets."""
    local = bundle is not None and not bundle.info.get("on_device")     # a bundle built on the device is not pushed
    pairs = plan(transport, profile.workdir, bundle.path if local else None, model, image,
                 tools=bundle.tools if local else ())
    if not pairs:
        return 0, {}
    remote = transport.file_hashes([r for _, r in pairs])
    return sum(loc.stat().st_size for loc, rem in pairs if remote[rem] != model.sha256(loc)), remote


def _fit_refusals(model, facts: DeviceFacts, pending: int) -> list[str]:
    out = []
    if facts.disk_free_bytes is not None and pending > facts.disk_free_bytes:
        out.append(f"{_gb(pending)} to push but only {_gb(facts.disk_free_bytes)} free in the workdir")
    weights = sum(p.stat().st_size for p in model.files())
    if facts.mem_available_bytes is not None and weights * MEMORY_HEADROOM > facts.mem_available_bytes:
        out.append(f"the model needs ≈{_gb(weights * MEMORY_HEADROOM)} of memory (weights + 10%) but only "
                   f"{_gb(facts.mem_available_bytes)} is available")
    return out


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
