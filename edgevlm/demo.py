"""The main job on built-in defaults: a synthetic MobileVLM through every stage, on this host.

synth → convert → verify → run → bench → report (against this machine's own earlier runs only). Each stage prints
what it computed; `out` keeps every artifact (checkpoint, GGUF files, verify JSON, results store, report) so a
user can look at them afterwards.
"""
from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

from rich.panel import Panel
from rich.table import Table

from edgevlm import fingerprint as fp
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.session import bench_device
from edgevlm.checkpoint.synth import synthesize
from edgevlm.convert import convert
from edgevlm.files import ensure_output_dir
from edgevlm.images import make_demo_image
from edgevlm.progress import console, progress_bar
from edgevlm.report import compare, write_report
from edgevlm.report.summary import print_summary
from edgevlm.runtime import Runtime
from edgevlm.store import ResultsStore
from edgevlm.verify import verify

QUESTION = "What is in the image?"
DEMO_RUNS = 3  # candidate runs per demo: with ≥ 5 earlier runs as baseline the U test can reach p = 0.018


def _rule(title: str) -> None:
    console.rule(f"[bold]{title}")


def stage_synth(out: Path, preset: str) -> Path:
    _rule(f"1. synth {preset}")
    ckpt = out / f"checkpoint-{preset}"
    if ckpt.exists():
        shutil.rmtree(ckpt)
    synthesize(preset, ckpt, fmt="bin", seed=0)
    sizes = ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in sorted(ckpt.iterdir()))
    console.print(Panel(f"{ckpt}\n{sizes}", expand=False))
    return ckpt


def stage_convert(ckpt: Path, out: Path, quant: str) -> Path:
    _rule(f"2. convert → {quant.upper()} LLM GGUF + mmproj GGUF")
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    result = convert(ckpt, model_dir, quant=quant, mmproj_quant="f16", progress=True)
    table = Table(show_header=True, title_justify="left")
    for col in ("file", "size", "sha256"):
        table.add_column(col)
    manifest = json.loads(result.manifest.read_text())
    for role, entry in manifest["files"].items():
        table.add_row(f"{entry['name']} ({role})", f"{entry['size'] / 1e6:.2f} MB", entry["sha256"][:16] + "…")
    console.print(table)
    return model_dir


def stage_verify(model_dir: Path, ckpt: Path, image: Path, out: Path) -> bool:
    _rule("3. verify against the PyTorch reference")
    report = verify(model_dir, ckpt, image=image, progress=True)
    report.render(console)
    report.write_json(out / "verify.json")
    return report.ok


def stage_run(model_dir: Path, image: Path) -> None:
    _rule("4. run: native vision encoder + llama.cpp on this host")
    runtime = Runtime(model_dir, threads=2)
    v = runtime.vision
    console.print(f"[dim]vision encoder: {v.backend} backend, mmproj {v.weight_type}, ViT matmul {v.vit_matmul}, "
                  f"projector {v.projector_impl}[/]", highlight=False)
    console.print(f"[bold]USER:[/] <image> {QUESTION}\n[bold]ASSISTANT:[/] ", end="")
    result = runtime.generate(QUESTION, image, max_new_tokens=24,
                              stream=lambda piece: console.print(piece, end="", highlight=False, markup=False))
    console.print("\n[dim](random weights: the words mean nothing; the tests prove they are the right ones)[/]")
    timings = getattr(result, "timings", None) or {}
    if timings:
        console.print(", ".join(f"{k} {v:.1f}" for k, v in timings.items() if isinstance(v, (int, float))))


def stage_bench(model_dir: Path, image: Path, store_path: Path, runs: int = DEMO_RUNS) -> list[int]:
    """``runs`` bench runs (the run is the report's unit of evidence), stored; their ids, oldest first."""
    _rule(f"5. bench on the host: {runs} runs → results store")
    spec = BenchSpec(repeat=5, warmup=1, prompt_tokens=200, gen=32)
    records = []
    with progress_bar() as progress:
        for _ in range(runs):
            records += bench_device(DeviceRequest("host", model_dir, threads=2, image=image), spec,
                                    progress=progress).records
    with ResultsStore(store_path) as store:
        run_ids = store.add_runs(records)
    table = Table(title=f"edgevlm-run on host, {runs} runs × {spec.repeat} repetitions (median of each run) → "
                  f"{store_path}", title_justify="left")
    table.add_column("metric")
    for i in range(len(records)):
        table.add_column(f"run {run_ids[i]}")
    for metric in sorted(records[0].samples):
        table.add_row(metric, *(f"{statistics.median(r.samples[metric]):.2f}" for r in records))
    console.print(table)
    return run_ids


def stage_report(store_path: Path, candidate_runs: list[int], out: Path) -> None:
    """This run's bench against this machine's earlier demo runs in the same store — never another machine's:
    only runs with the candidate's fingerprint (hardware, cores, governor, threads, workload) count."""
    _rule("6. report: this bench against this machine's earlier runs")
    with ResultsStore(store_path) as store:
        baseline = like_runs(store, candidate_runs)
        if not baseline:
            console.print("no baseline for this machine yet: the next `make demo` (same demo-out folder) compares "
                          f"against the {len(candidate_runs)} runs just stored")
            return
        report = compare(store, baseline, candidate_runs)
    written = write_report(report, out / "report", ["md", "html", "json"])
    print_summary(report)
    console.print("wrote " + ", ".join(str(p) for p in written))
    console.print("[dim](informational: the demo never fails on a verdict — same code, so any change here is this "
                  "machine's load between demo runs; `edgevlm report` exits 1 on a regression)[/]")


def like_runs(store, candidate_runs: list[int]) -> list[int]:
    """Earlier runs of the store measured like the candidate's (edgevlm.fingerprint.comparable_key)."""
    cand = store.runs(ids=candidate_runs)
    keys = {(r.record.model_name, r.record.quant, fp.comparable_key(fp.of_record(r.record))) for r in cand}
    return [r.id for r in store.runs() if r.id not in set(candidate_runs)
            and (r.record.model_name, r.record.quant, fp.comparable_key(fp.of_record(r.record))) in keys]


def run_demo(out: Path, preset: str = "tiny-v2", quant: str = "q4_k_m") -> None:
    out = ensure_output_dir(Path(out).resolve())
    image = make_demo_image(out / "demo.png")
    ckpt = stage_synth(out, preset)
    model_dir = stage_convert(ckpt, out, quant)
    stage_verify(model_dir, ckpt, image, out)
    stage_run(model_dir, image)
    store_path = out / "results.sqlite"
    run_ids = stage_bench(model_dir, image, store_path)
    stage_report(store_path, run_ids, out)
