"""`edgevlm bench --device NAME MODEL_DIR`: profile → transport → bundle → deploy → runs → records.

The API behind the CLI. Results are returned as RunRecords (edgevlm's own, plus stock llama.cpp's with
``with_stock``); a device fault is returned alongside the partial record rather than raised, so the caller can
store what was measured before reporting the error.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edgevlm.bench.deploy import Deployment, deploy
from edgevlm.bench.model import BenchModel, find_model
from edgevlm.bench.runner import BenchSpec, Series, model_summary, run_series, sample_log
from edgevlm.bench.stock import llama_bench, mtmd_encode, mtmd_record
from edgevlm.build.bundle import Bundle, build_bundle, host_bundle, load_bundle
from edgevlm.device.connect import transport_for
from edgevlm.device.fingerprint import fingerprint
from edgevlm.device.profiles import DeviceProfile, load_profile
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError, ImageError, NativeNotBuilt
from edgevlm.paths import REPO_ROOT
from edgevlm.store.record import RunRecord


@dataclass
class BenchResult:
    records: list[RunRecord] = field(default_factory=list)
    series: Series | None = None
    error: str | None = None


def git_state() -> tuple[str, str]:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""
    return git("rev-parse", "--short", "HEAD"), git("rev-parse", "--abbrev-ref", "HEAD")


def ensure_bundle(profile: DeviceProfile, progress=None) -> Bundle:
    """The local bundle for the profile's target, built when missing."""
    if profile.target == "host":
        bundle = host_bundle()
        if bundle is None:
            raise NativeNotBuilt("the host build has none of edgevlm-run, llama-bench, llama-mtmd-cli",
                                 hint="run `make native`")
    else:
        bundle = load_bundle(profile.target) or build_bundle(profile.target, progress=progress)
    if not bundle.has("edgevlm-run"):
        raise NativeNotBuilt(f"the {profile.target} bundle at {bundle.path} has no edgevlm-run "
                             f"(it has {', '.join(bundle.tools) or 'nothing'})",
                             hint=f"edgevlm build --target {profile.target}")
    return bundle


def bench_device(device: str, model_dir: Path, *, spec: BenchSpec, image: Path | None = None,
                 serial: str | None = None, host: str | None = None, quant: str | None = None,
                 with_stock: bool = False, progress=None, transport: Transport | None = None,
                 bundle: Bundle | None = None) -> BenchResult:
    profile = load_profile(device)
    if image is not None and not Path(image).is_file():
        raise ImageError(f"image {image} does not exist")
    model = find_model(model_dir, quant)
    if image is not None and model.mmproj is None:
        raise ImageError(f"{model_dir} has no mmproj-*.gguf, so an image cannot be encoded")
    transport = transport or transport_for(profile, serial=serial, host=host)
    bundle = bundle or ensure_bundle(profile, progress)
    dep = deploy(transport, profile.workdir, bundle.path, model, image)
    base = _base_record(profile, transport, bundle, model, spec, image is not None)
    task = progress.add_task(f"bench {profile.name}", total=spec.warmup + spec.repeat) if progress else None
    step = (lambda: progress.advance(task)) if progress else None
    series = run_series(transport, profile, dep, spec, on_step=step)
    result = BenchResult(series=series, error=series.error)
    if series.measured or series.partial:
        result.records.append(_edgevlm_record(base, series))
    if with_stock and not series.partial:
        result.records += _stock_records(transport, profile, dep, spec, base, result)
    return result


def _base_record(profile: DeviceProfile, transport: Transport, bundle: Bundle, model: BenchModel,
                 spec: BenchSpec, with_image: bool) -> RunRecord:
    commit, branch = git_state()
    threads = spec.threads or profile.run.threads or None
    return RunRecord(device_name=profile.name, model_name=model.name, quant=model.quant, samples={},
                     commit=commit, branch=branch, device_fingerprint=fingerprint(transport),
                     build_flags=dict(bundle.info.get("cmake_defs", {})),
                     llama_cpp_commit=bundle.info.get("llama_cpp_commit", ""), model_hashes=model.hashes(),
                     threads=threads, partial=True, workload=spec.workload(with_image),
                     extra={"transport": transport.describe(), "model": model_summary(model),
                            "cpu_mask": profile.run.cpu_mask, "repeat": spec.repeat, "warmup": spec.warmup})


def _edgevlm_record(base: RunRecord, series: Series) -> RunRecord:
    body = base.to_dict()
    body.update(samples=series.values(), partial=series.partial,
                throttled=any(s.throttled for s in series.measured),
                extra={**base.extra, "runs": sample_log(series), "error": series.error})
    return RunRecord.from_dict(body, "bench record")


def _stock_records(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec,
                   base: RunRecord, result: BenchResult) -> list[RunRecord]:
    records: list[RunRecord] = []
    try:
        for record in llama_bench(transport, profile, dep, spec):
            record.device_fingerprint, record.model_hashes = base.device_fingerprint, base.model_hashes
            record.commit, record.branch, record.build_flags = base.commit, base.branch, base.build_flags
            records.append(record)
        encode = mtmd_encode(transport, profile, dep, spec)
        if encode:
            records.append(mtmd_record(base, encode))
    except DeviceError as exc:
        result.error = f"stock tools: {exc}"
    return records
