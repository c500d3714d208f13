"""The bench loop: warm-up + N repetitions of edgevlm-run on a device, every raw sample kept.

Before each run the thermal gate waits (bounded) for the device to cool; the temperature is read before and
after; a run that ends hot (or starts hot because the wait ran out) is flagged throttled. A device fault in the
middle (connection lost, binary killed, timeout) stops the series: the samples so far are kept and the record
is marked partial, and the error is returned for the caller to report after storing.
"""
from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgevlm.bench.deploy import Deployment
from edgevlm.bench.model import BenchModel
from edgevlm.bench.parse import parse_run_json, run_metrics
from edgevlm.bench.thermal import Cooldown, is_throttled, read_temp_c, wait_cool
from edgevlm.device.profiles import DeviceProfile
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError

# single-token English words: a prompt of n words is close to n tokens with a llama tokenizer
_FILLER = ("the", "cat", "sat", "on", "a", "red", "mat", "and", "looked", "at", "big", "blue", "sky")


@dataclass(frozen=True)
class BenchSpec:
    repeat: int = 5
    warmup: int = 1
    threads: int = 0                  # 0: the profile's
    prompt_tokens: int = 246
    gen: int = 128
    timeout_s: float = 1800.0

    def workload(self, with_image: bool) -> str:
        return ("img336+" if with_image else "") + f"p{self.prompt_tokens}+g{self.gen}"


@dataclass
class Sample:
    index: int
    warmup: bool
    metrics: dict[str, float]
    temp_before_c: float | None
    temp_after_c: float | None
    cooldown: dict[str, Any]
    throttled: bool
    raw: dict[str, Any]


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def measured(self) -> list[Sample]:
        return [s for s in self.samples if not s.warmup]

    @property
    def partial(self) -> bool:
        return self.error is not None

    def values(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for sample in self.measured:
            for name, value in sample.metrics.items():
                out.setdefault(name, []).append(value)
        return out


def prompt_text(n_tokens: int) -> str:
    words = [_FILLER[i % len(_FILLER)] for i in range(max(1, n_tokens - 8))]
    return "Describe this: " + " ".join(words)


def run_command(dep: Deployment, profile: DeviceProfile, spec: BenchSpec, out_json: str) -> str:
    threads = spec.threads or profile.run.threads
    args = ["./edgevlm-run", "-m", dep.llm]
    if dep.mmproj and dep.image:
        args += ["--mmproj", dep.mmproj, "--image", dep.image]
    args += ["-p", prompt_text(spec.prompt_tokens), "-n", str(spec.gen), "--json", out_json]
    if threads:
        args += ["-t", str(threads)]
    if profile.run.n_gpu_layers:
        args += ["-ngl", str(profile.run.n_gpu_layers)]
    line = " ".join(shlex.quote(a) for a in args)
    return f"taskset {profile.run.cpu_mask} {line}" if profile.run.cpu_mask else line


def run_series(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec,
               on_step=None) -> Series:
    """Warm-up + repetitions; never raises DeviceError — a fault ends the series as partial."""
    series = Series()
    total = spec.warmup + spec.repeat
    for index in range(total):
        try:
            series.samples.append(_one_run(transport, profile, dep, spec, index, index < spec.warmup))
        except DeviceError as exc:
            series.error = f"run {index + 1}/{total}: {exc}"
            break
        if on_step:
            on_step()
    return series


def _one_run(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec, index: int,
             warmup: bool) -> Sample:
    cooldown: Cooldown = wait_cool(transport, profile.thermal)
    out_json = f"{dep.scratch}/run-{index}.json"
    transport.shell(f"rm -f {shlex.quote(out_json)}")
    result = transport.shell(run_command(dep, profile, spec, out_json), cwd=dep.bundle, env=dep.env,
                             timeout=spec.timeout_s)
    temp_after = read_temp_c(transport, profile.thermal.zones)
    if result.code != 0:
        raise DeviceError(f"edgevlm-run {result.describe()}: {(result.stderr or result.stdout).strip()[-400:]}")
    text = transport.read_text(out_json)
    if text is None:
        raise DeviceError(f"edgevlm-run exited 0 but wrote no {out_json}")
    raw = parse_run_json(text, f"{transport.name}:{out_json}")
    return Sample(index, warmup, run_metrics(raw), cooldown.end_c, temp_after, asdict(cooldown),
                  is_throttled(profile.thermal, temp_after, cooldown), raw)


def sample_log(series: Series) -> list[dict[str, Any]]:
    """Every run (warm-up included) with its temperatures and raw record, for the record's `extra`."""
    return [{"index": s.index, "warmup": s.warmup, "temp_before_c": s.temp_before_c,
             "temp_after_c": s.temp_after_c, "cooldown": s.cooldown, "throttled": s.throttled,
             "raw": s.raw} for s in series.samples]


def model_summary(model: BenchModel) -> dict[str, Any]:
    return {"llm": Path(model.llm).name, "mmproj": Path(model.mmproj).name if model.mmproj else None}
