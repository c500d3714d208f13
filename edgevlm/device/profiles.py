"""Device profiles: one TOML file per device, typed, validated field by field.

Looked up by exact name in the user's folder (~/.config/edgevlm/devices/, or $EDGEVLM_DEVICES_DIR) first and
then in the repository's devices/. A user adds a device by writing one file; an invalid file is a DeviceError
that names the file and the dotted field that is wrong (``sd888.toml: [run].threads must be an integer ...``).
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edgevlm.errors import DeviceError
from edgevlm.paths import devices_dir
from edgevlm.quants import LLM_QUANTS, MMPROJ_QUANTS
from edgevlm.toolchain.targets import TARGETS

TRANSPORTS = ("local", "adb", "ssh", "sim")   # sim: the arm64 bundle under qemu-user on this host (bench/sim.py)
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class RunSettings:
    threads: int = 0                 # 0: let the binary decide (all cores)
    cpu_mask: str = ""               # hex taskset mask, empty: no pinning
    n_gpu_layers: int = 0


@dataclass(frozen=True)
class ModelSettings:
    """The quants this device should run (its one home): `convert --device` and `bench/run --device` default to
    them. Empty: no advice (convert's own defaults; a folder's only LLM)."""
    quant: str = ""                  # LLM quant name, as --quant takes it
    mmproj_quant: str = ""           # mmproj quant name, as --mmproj-quant takes it


@dataclass(frozen=True)
class ThermalSettings:
    zones: tuple[str, ...] = ()
    throttle_c: float = 80.0
    cooldown_c: float = 50.0
    cooldown_max_s: float = 120.0
    monitor: str = ""


@dataclass(frozen=True)
class AdbSettings:
    serial: str = ""


@dataclass(frozen=True)
class SshSettings:
    host: str = ""
    port: int = 22
    user: str = ""
    identity_file: str = ""
    known_hosts: str = ""            # empty: ssh's default (~/.ssh/known_hosts)


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    target: str
    transport: str
    description: str = ""
    workdir: str = ""
    run: RunSettings = field(default_factory=RunSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    thermal: ThermalSettings = field(default_factory=ThermalSettings)
    adb: AdbSettings = field(default_factory=AdbSettings)
    ssh: SshSettings = field(default_factory=SshSettings)
    source: str = ""                 # the file it was read from


SECTIONS = {"run": RunSettings, "model": ModelSettings, "thermal": ThermalSettings, "adb": AdbSettings,
            "ssh": SshSettings}
SCALARS = {"name": str, "target": str, "transport": str, "description": str, "workdir": str}


def user_devices_dir() -> Path:
    env = os.environ.get("EDGEVLM_DEVICES_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "edgevlm" / "devices"


def search_dirs() -> tuple[Path, ...]:
    return (user_devices_dir(), devices_dir())


def profile_files() -> dict[str, Path]:
    """name -> file; a user's file shadows the repository's file of the same name."""
    found: dict[str, Path] = {}
    for folder in reversed(search_dirs()):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.toml"))})
    return found


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A profile by exact name (searched in search_dirs()) or by the path of a .toml file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        files = profile_files()
        if str(name_or_path) not in files:
            raise DeviceError(f"no device profile named {str(name_or_path)!r}",
                              hint=f"known: {', '.join(sorted(files)) or 'none'}; add one as "
                                   f"{user_devices_dir()}/{name_or_path}.toml")
        path = files[str(name_or_path)]
    if not path.is_file():
        raise DeviceError(f"device profile {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise DeviceError(f"{path.name}: not valid TOML: {exc}") from None
    return parse_profile(data, path)


def load_all() -> list[DeviceProfile]:
    return [load_profile(path) for path in profile_files().values()]


def parse_profile(data: dict[str, Any], path: Path) -> DeviceProfile:
    where = path.name
    unknown = sorted(set(data) - set(SCALARS) - set(SECTIONS))
    if unknown:
        raise DeviceError(f"{where}: unknown field {unknown[0]!r}",
                          hint=f"known fields: {', '.join([*SCALARS, *(f'[{s}]' for s in SECTIONS)])}")
    values: dict[str, Any] = {}
    for key, kind in SCALARS.items():
        if key in data:
            values[key] = _check(where, key, data[key], kind)
    for key in ("name", "target", "transport"):
        if key not in values:
            raise DeviceError(f"{where}: missing field {key!r}")
    _check_choice(where, "target", values["target"], tuple(TARGETS))
    _check_choice(where, "transport", values["transport"], TRANSPORTS)
    if not PROFILE_NAME.match(values["name"]):
        raise DeviceError(f"{where}: field 'name' must be letters, digits, '.', '_' or '-', got {values['name']!r}")
    for key, cls in SECTIONS.items():
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise DeviceError(f"{where}: [{key}] must be a table, got {table!r}")
        values[key] = _section(where, key, table, cls)
    profile = DeviceProfile(**values, source=str(path))
    _check_semantics(where, profile)
    return profile


def _section(where: str, section: str, table: dict[str, Any], cls: type) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise DeviceError(f"{where}: unknown field [{section}].{unknown[0]}",
                          hint=f"known fields of [{section}]: {', '.join(known)}")
    kwargs = {}
    for key, value in table.items():
        kind = known[key].type
        kwargs[key] = _check(where, f"[{section}].{key}", value, _TYPE_NAMES[kind])
    return cls(**kwargs)


_TYPE_NAMES: dict[str, Any] = {"int": int, "float": float, "str": str, "tuple[str, ...]": tuple}


def _check(where: str, key: str, value: Any, kind: type) -> Any:
    if kind is float and type(value) in (int, float):
        return float(value)
    if kind is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise DeviceError(f"{where}: {key} must be a list of strings, got {value!r}")
    if type(value) is not kind:  # exact: TOML booleans are not integers here
        raise DeviceError(f"{where}: {key} must be {_ARTICLE[kind]}, got {value!r}")
    return value


_ARTICLE = {int: "an integer", float: "a number", str: "a string"}


def _check_choice(where: str, key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DeviceError(f"{where}: field {key!r} must be one of {', '.join(choices)}, got {value!r}")


def _check_semantics(where: str, p: DeviceProfile) -> None:
    if p.run.threads < 0:
        raise DeviceError(f"{where}: [run].threads must be >= 0, got {p.run.threads}")
    if p.run.cpu_mask and not re.fullmatch(r"[0-9a-fA-F]+", p.run.cpu_mask):
        raise DeviceError(f"{where}: [run].cpu_mask must be a hex taskset mask such as 'f0', got {p.run.cpu_mask!r}")
    if p.thermal.cooldown_max_s < 0:
        raise DeviceError(f"{where}: [thermal].cooldown_max_s must be >= 0, got {p.thermal.cooldown_max_s}")
    if p.model.quant and p.model.quant not in LLM_QUANTS:
        raise DeviceError(f"{where}: [model].quant must be one of {', '.join(LLM_QUANTS)}, got {p.model.quant!r}")
    if p.model.mmproj_quant and p.model.mmproj_quant not in MMPROJ_QUANTS:
        raise DeviceError(f"{where}: [model].mmproj_quant must be one of {', '.join(MMPROJ_QUANTS)}, "
                          f"got {p.model.mmproj_quant!r}")
    if not 0 < p.ssh.port < 65536:
        raise DeviceError(f"{where}: [ssh].port must be 1..65535, got {p.ssh.port}")
    if p.transport == "ssh" and not p.ssh.host:
        raise DeviceError(f"{where}: [ssh].host is required when transport = 'ssh'")


def model_quants(device: str | None, quant: str | None, mmproj_quant: str | None) -> tuple[dict[str, str], str]:
    """convert's quant options: the ones given, the others from the device profile's [model] (neither: convert's
    own defaults), and a line saying what the profile supplied ("" when nothing)."""
    given = {"quant": quant, "mmproj_quant": mmproj_quant}
    chosen = {k: v for k, v in given.items() if v}
    if not device:
        return chosen, ""
    model = load_profile(device).model
    taken = {k: getattr(model, k) for k, v in given.items() if not v and getattr(model, k)}
    note = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in taken.items())
    return {**chosen, **taken}, f"{device} profile: {note}" if note else ""
