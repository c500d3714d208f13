"""The bench loop: warm-up + N repetitions of edgevlm-run on a device, every raw sample kept.

Before each run the thermal gate waits (bounded) for the device to cool; the temperature is read before and
after; a run that ends hot (or starts hot because the wait ran out) is flagged throttled. A device fault in the
middle (connection lost, binary killed, timeout) stops the series: the samples so far are kept and the record
is marked partial, and the error is returned for the caller to report after storing.
"""
from __future__ import annotations

import shlex
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgevlm.device.deploy import Deployment
from edgevlm.artifact import ModelFolder
from edgevlm.bench.options import run_argv
from edgevlm.bench.parse import parse_run_json, run_metrics
from edgevlm.bench.thermal import Cooldown, is_throttled, read_temp_c, wait_cool
from edgevlm.device.profiles import DeviceProfile
from edgevlm.device.tracked import run_tracked
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError
from edgevlm.interrupt import signal_of
from edgevlm.store.record import RunRecord

# The question of the published workload; edgevlm-run pads the prompt to exactly --prompt-tokens tokens.
QUESTION = "What is in this image? Describe it in detail."
TEXT_QUESTION = "Describe a cat sitting on a red mat in detail."


@dataclass(frozen=True)
class BenchSpec:
    """The workload. Default: the one the MobileVLM papers and llama.cpp's MobileVLM page report: an image and a
    question, 246 prompt tokens in all (144 of them image tokens), then 128 generated tokens."""
    repeat: int = 5
    warmup: int = 1
    threads: int = 0                  # 0: the profile's
    prompt_tokens: int = 246          # exactly this many, image tokens included (0: the question as it is)
    gen: int = 128                    # exactly this many (end-of-sequence ignored)
    timeout_s: float = 1800.0

    def question(self, with_image: bool) -> str:
        return QUESTION if with_image else TEXT_QUESTION


def workload_label(image_tokens: int, prompt_tokens: int, gen_tokens: int) -> str:
    """What ran, from edgevlm-run's record: 'img144+p246+g128' (prompt tokens include the image's)."""
    return (f"img{image_tokens}+" if image_tokens else "") + f"p{prompt_tokens}+g{gen_tokens}"


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
    interrupted: int | None = None        # the signal that ended it (Ctrl-C, SIGTERM, SIGHUP), if one did

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


@dataclass
class BenchResult:
    records: list[RunRecord] = field(default_factory=list)
    series: Series | None = None
    error: str | None = None
    interrupted: int | None = None       # the signal that ended the series early (SIGINT, SIGTERM, SIGHUP)


def run_command(dep: Deployment, profile: DeviceProfile, spec: BenchSpec, out_json: str) -> str:
    """edgevlm-run's command line, from the shared option table (edgevlm.bench.options)."""
    threads = spec.threads or profile.run.threads
    with_image = bool(dep.mmproj and dep.image)
    argv = run_argv("./edgevlm-run", model=dep.llm, mmproj=dep.mmproj if with_image else None,
                    image=dep.image if with_image else None, prompt=spec.question(with_image),
                    prompt_tokens=spec.prompt_tokens or None, n_predict=spec.gen, ignore_eos=True,
                    threads=threads or None, n_gpu_layers=profile.run.n_gpu_layers or None, json=out_json,
                    no_stream=True)
    return pinned(profile, " ".join(shlex.quote(a) for a in argv))


def pinned(profile: DeviceProfile, line: str) -> str:
    return f"taskset {profile.run.cpu_mask} {line}" if profile.run.cpu_mask else line


def run_series(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec,
               on_step=None) -> Series:
    """Warm-up + repetitions; never raises DeviceError — a fault ends the series as partial, and so does an
    interrupt (the tracked runner has already ended the run's process): the caller stores what was finished."""
    series = Series()
    total = spec.warmup + spec.repeat
    for index in range(total):
        try:
            series.samples.append(_one_run(transport, profile, dep, spec, index, index < spec.warmup))
        except DeviceError as exc:
            series.error = f"run {index + 1}/{total}: {exc}"
            break
        except KeyboardInterrupt as exc:
            series.interrupted = signal_of(exc)
            series.error = f"run {index + 1}/{total}: interrupted ({signal.Signals(series.interrupted).name})"
            break
        if on_step:
            on_step()
    return series


def _one_run(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec, index: int,
             warmup: bool) -> Sample:
    cooldown: Cooldown = wait_cool(transport, profile.thermal)
    out_json = f"{dep.scratch}/run-{index}.json"
    transport.shell(f"rm -f {shlex.quote(out_json)}")
    result = run_tracked(transport, run_command(dep, profile, spec, out_json), pid_file=f"{dep.scratch}/run.pid",
                         name="edgevlm-run", cwd=dep.bundle, env=dep.env, timeout=spec.timeout_s)
    temp_after = read_temp_c(transport, profile.thermal.zones)
    if result.code != 0:
        raise DeviceError(f"edgevlm-run {result.describe()}: {(result.stderr or result.stdout).strip()[-400:]}")
    text = transport.read_text(out_json)
    if text is None:
        raise DeviceError(f"edgevlm-run exited 0 but wrote no {out_json}")
    raw = parse_run_json(text, f"{transport.name}:{out_json}")
    check_workload(raw, spec)
    return Sample(index, warmup, run_metrics(raw), cooldown.end_c, temp_after, asdict(cooldown),
                  is_throttled(profile.thermal, temp_after, cooldown), raw)


def check_workload(raw: dict[str, Any], spec: BenchSpec) -> None:
    """The record must show the workload that was asked for: a label must never describe what did not run."""
    ran = (raw.get("prompt_tokens"), raw.get("gen_tokens"))
    if (spec.prompt_tokens and ran[0] != spec.prompt_tokens) or ran[1] != spec.gen:
        raise DeviceError(f"edgevlm-run ran {ran[0]} prompt + {ran[1]} generated tokens, not the "
                          f"{spec.prompt_tokens or 'natural'} + {spec.gen} asked for")


def sample_log(series: Series) -> list[dict[str, Any]]:
    """Every run (warm-up included) with its temperatures and raw record, for the record's `extra`."""
    return [{"index": s.index, "warmup": s.warmup, "temp_before_c": s.temp_before_c,
             "temp_after_c": s.temp_after_c, "cooldown": s.cooldown, "throttled": s.throttled,
             "raw": s.raw} for s in series.samples]


def model_summary(model: ModelFolder) -> dict[str, Any]:
    return {"llm": Path(model.llm).name, "mmproj": Path(model.mmproj).name if model.mmproj else None}
