"""`edgevlm bench --device NAME MODEL_DIR`: profile → transport → bundle → preflight → deploy → runs → records.

The API behind the CLI. Results are returned as RunRecords (edgevlm's own, plus stock llama.cpp's with
``with_stock``); a device fault is returned alongside the partial record rather than raised, so the caller can
store what was measured before reporting the error.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass, replace
from pathlib import Path

from edgevlm.bench.bounds import check_tokens, context_length
from edgevlm.artifact import ModelFolder, find_model
from edgevlm.bench.image import resolve_image
from edgevlm.bench.request import DeviceRequest, with_device_quant
from edgevlm.bench.runner import BenchResult, BenchSpec, Series, model_summary, run_series, sample_log, workload_label
from edgevlm.bench.sim import bench_sim
from edgevlm.bench.stock import llama_bench, mtmd_encode, mtmd_record
from edgevlm.toolchain.bundle import Bundle, bundle_from_dir, ensure_bundle
from edgevlm.device import preflight
from edgevlm.device.connect import transport_for
from edgevlm.device.deploy import Deployment, Placement, deploy, remove_scratch
from edgevlm.device.fingerprint import fingerprint
from edgevlm.device.lock import DeviceLock, acquire
from edgevlm.device.preflight import Preflight
from edgevlm.device.profiles import DeviceProfile, load_profile
from edgevlm.device.remote_build import device_built_bundle
from edgevlm.device.transport import Transport
from edgevlm.interrupt import signal_of
from edgevlm.errors import DeviceError, NativeNotBuilt
from edgevlm.fingerprint import build_fields, device_fields, git_state
from edgevlm.store.record import RunRecord


@dataclass
class Prepared:
    """A device ready to run, held for this session: the profile as the preflight adapted it, what was pushed and
    where, the device's lock and the session's own scratch folder. close() (or leaving a `with`) removes the
    scratch folder and frees the device."""
    profile: DeviceProfile
    transport: Transport
    bundle: Bundle
    model: ModelFolder
    image: Path | None
    preflight: Preflight
    dep: Deployment
    lock: DeviceLock | None = None

    def close(self) -> None:
        try:
            remove_scratch(self.transport, self.dep)
        finally:
            if self.lock is not None:
                self.lock.release()

    def __enter__(self) -> "Prepared":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def prepare(req: DeviceRequest, *, progress=None, warn=None) -> Prepared:
    """Profile → transport → the device's lock (waiting, or DeviceBusy) → bundle → preflight (refuses before any
    push) → deploy (hash-skipped) into a scratch folder of this session. The caller closes what it gets."""
    req = with_device_quant(req)
    profile = load_profile(req.device)
    check_workdir(profile)
    model = find_model(req.model_dir, req.quant)
    image = resolve_image(req.image, req.no_image, model, req.model_dir)
    transport = req.transport or transport_for(profile, serial=req.serial, host=req.host)
    lock = req.lock or acquire(transport, wait=req.wait, on_wait=warn)
    try:
        bundle = req.bundle or (bundle_from_dir(req.bundle_dir) if req.bundle_dir else None) or \
            device_built_bundle(transport, profile) or ensure_bundle(profile.target, progress)
        on_device = bool(bundle.info.get("on_device"))
        if not (bundle.has("edgevlm-run") or on_device and "edgevlm-run" in bundle.tools):
            raise NativeNotBuilt(f"the bundle at {bundle.path} has no edgevlm-run",
                                 hint="edgevlm build --target ...")
        pre = preflight.check(transport, profile, bundle, model, image=image).require()
        for line in pre.warnings:
            (warn or (lambda text: None))(f"{profile.name}: {line}")
        profile = pre.apply(profile)
        dep = deploy(transport, Placement(profile.workdir, None if on_device else bundle.path,
                                          str(bundle.path) if on_device else None, bundle.tools),
                     model, image, known_hashes=pre.remote_hashes)
    except BaseException:
        lock.release()
        raise
    return Prepared(profile, transport, bundle, model, image, pre, dep, lock)


def check_workdir(profile: DeviceProfile) -> None:
    """A workdir is a path, never an option: one starting with '-' would reach mkdir/rm as a flag."""
    if profile.workdir.startswith("-"):
        raise DeviceError(f"{profile.source}: workdir {profile.workdir!r} starts with '-'",
                          hint="give an absolute path (or ~/...) in the profile's workdir")


def capped_threads(ready: Prepared, threads: int, warn=None) -> int:
    """A --threads the user asked for, no more than the cores the run uses (0: the profile's, already capped)."""
    cores = len(ready.preflight.cpus)
    if threads > cores:
        (warn or (lambda text: None))(f"{ready.profile.name}: --threads {threads} > {cores} cores in use: "
                                      f"running {cores} threads")
        return cores
    return threads


def bench_device(req: DeviceRequest, spec: BenchSpec, *, with_stock: bool = False, progress=None,
                 warn=None) -> BenchResult:
    """Prepare (holding the device), run the series, and the stock tools with `with_stock`. An interrupt (Ctrl-C,
    SIGTERM, SIGHUP) during the series ends it: the runs finished come back marked partial, with `interrupted`
    set, for the caller to store before it exits."""
    req = with_device_quant(req)
    check_tokens(context_length(find_model(req.model_dir, req.quant).llm), prompt_tokens=spec.prompt_tokens,
                 gen_tokens=spec.gen, what="--prompt-tokens + --gen")
    profile = load_profile(req.device)
    if profile.transport == "sim":   # counted under qemu on this host: no device to hold (edgevlm.bench.sim)
        return bench_sim(req, spec, profile, progress=progress)
    with prepare(req, progress=progress, warn=warn) as ready:
        spec = replace(spec, threads=capped_threads(ready, req.threads or spec.threads, warn))
        base = base_record(ready, spec)
        task = progress.add_task(f"bench {ready.profile.name}", total=spec.warmup + spec.repeat) \
            if progress else None
        step = (lambda: progress.advance(task)) if progress else None
        series = run_series(ready.transport, ready.profile, ready.dep, spec, on_step=step)
        result = BenchResult(series=series, error=series.error, interrupted=series.interrupted)
        if series.samples:
            _label_workload(base, series, spec, ready)
        if series.measured:                 # a run with no measured sample is not a run: nothing is stored
            result.records.append(_edgevlm_record(base, series))
        if with_stock and series.samples and not series.partial:
            try:
                result.records += _stock_records(ready, spec, base, result)
            except KeyboardInterrupt as exc:     # the stock tool was ended where it ran; ours are kept
                result.interrupted = signal_of(exc)
                result.error = f"stock tools: interrupted ({signal.Signals(result.interrupted).name})"
    return result


def _label_workload(base: RunRecord, series: Series, spec: BenchSpec, ready: Prepared) -> None:
    first = series.samples[0].raw
    base.workload = workload_label(first.get("image_tokens", 0), first["prompt_tokens"], first["gen_tokens"])
    base.extra["workload"] = {"image_tokens": first.get("image_tokens", 0),
                              "prompt_tokens": first["prompt_tokens"], "gen_tokens": first["gen_tokens"],
                              "question": spec.question(ready.image is not None),
                              "image": ready.image.name if ready.image else None}


def base_record(ready: Prepared, spec: BenchSpec) -> RunRecord:
    """A session's run conditions, no samples yet: what the bench and `bench --warm` (edgevlm.serve) store."""
    commit, branch = git_state()
    profile, bundle, model = ready.profile, ready.bundle, ready.model
    threads = spec.threads or profile.run.threads or None
    return RunRecord(device_name=profile.name, model_name=model.name, quant=model.quant, samples={},
                     commit=commit, branch=branch,
                     device_fingerprint=device_fields(fingerprint(ready.transport), profile.run.cpu_mask),
                     build_flags=build_fields(bundle.info),
                     llama_cpp_commit=bundle.info.get("llama_cpp_commit", ""), model_hashes=model.hashes(),
                     threads=threads, partial=True, workload="",
                     extra={"transport": ready.transport.describe(), "model": model_summary(model),
                            "cpu_mask": profile.run.cpu_mask, "repeat": spec.repeat, "warmup": spec.warmup,
                            "preflight": {"cpus": list(ready.preflight.cpus), "warnings": list(ready.preflight.warnings),
                                          "l4t": ready.preflight.facts.l4t, "cuda": ready.preflight.facts.cuda}})


def _edgevlm_record(base: RunRecord, series: Series) -> RunRecord:
    body = base.to_dict()
    body.update(samples=series.values(), partial=series.partial,
                throttled=any(s.throttled for s in series.measured),
                extra={**base.extra, "runs": sample_log(series), "error": series.error})
    return RunRecord.from_dict(body, "bench record")


def _stock_records(ready: Prepared, spec: BenchSpec, base: RunRecord, result: BenchResult) -> list[RunRecord]:
    transport, profile, dep = ready.transport, ready.profile, ready.dep
    records: list[RunRecord] = []
    try:
        prompt_tokens = base.extra["workload"]["prompt_tokens"]
        for record in llama_bench(transport, profile, dep, spec, prompt_tokens):
            record.device_fingerprint, record.model_hashes = base.device_fingerprint, base.model_hashes
            record.commit, record.branch, record.build_flags = base.commit, base.branch, base.build_flags
            records.append(record)
        encode = mtmd_encode(transport, profile, dep, spec)
        if encode:
            records.append(mtmd_record(base, encode, base.extra["workload"]["image_tokens"]))
    except DeviceError as exc:
        result.error = f"stock tools: {exc}"
    return records
