"""The main job on built-in defaults: a synthetic MobileVLM through every stage, on this host.

synth → convert → verify → run → bench → report. Each stage prints what it computed; `out` keeps every
artifact (checkpoint, GGUF files, verify JSON, results store, report) so a user can look at them afterwards.
"""
from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

from rich.panel import Panel
from rich.table import Table

from edgevlm.images import make_demo_image
from edgevlm.progress import console

QUESTION = "What is in the image?"
BASELINE_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "baseline"


def _rule(title: str) -> None:
    console.rule(f"[bold]{title}")


def stage_synth(out: Path, preset: str) -> Path:
    from edgevlm.checkpoint.synth import synthesize

    _rule(f"1. synth {preset}")
    ckpt = out / f"checkpoint-{preset}"
    if ckpt.exists():
        shutil.rmtree(ckpt)
    synthesize(preset, ckpt, fmt="bin", seed=0)
    sizes = ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in sorted(ckpt.iterdir()))
    console.print(Panel(f"{ckpt}\n{sizes}", expand=False))
    return ckpt


def stage_convert(ckpt: Path, out: Path, quant: str) -> Path:
    from edgevlm.convert import convert

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
    from edgevlm.verify import verify

    _rule("3. verify against the PyTorch reference")
    report = verify(model_dir, ckpt, image=image, progress=True)
    report.render(console)
    report.write_json(out / "verify.json")
    return report.ok


def stage_run(model_dir: Path, image: Path) -> None:
    from edgevlm.runtime import Runtime

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


def stage_bench(model_dir: Path, image: Path, store_path: Path) -> int:
    from edgevlm.bench.runner import BenchSpec
    from edgevlm.bench.session import bench_device
    from edgevlm.progress import progress_bar
    from edgevlm.store import ResultsStore

    _rule("5. bench on the host → results store")
    spec = BenchSpec(repeat=5, warmup=1, threads=2, prompt_tokens=64, gen=32)
    with progress_bar() as progress:
        result = bench_device("host", model_dir, spec=spec, image=image, progress=progress)
    with ResultsStore(store_path) as store:
        run_ids = store.add_runs(result.records)
    table = Table(title=f"edgevlm-run on host, {spec.repeat} runs (medians) → {store_path}", title_justify="left")
    table.add_column("metric")
    table.add_column("median")
    for metric, values in sorted(result.records[0].samples.items()):
        table.add_row(metric, f"{statistics.median(values):.2f}")
    console.print(table)
    return run_ids[0]


def stage_report(store_path: Path, candidate_run: int, out: Path) -> None:
    from edgevlm.cli.report import print_summary
    from edgevlm.report import compare, write_report
    from edgevlm.store import ResultsStore
    from edgevlm.store.importing import import_files

    _rule("6. report: candidate vs the committed baseline")
    baseline_files = sorted(BASELINE_DIR.glob("*.json"))
    with ResultsStore(store_path) as store:
        if baseline_files:
            import_files(store, baseline_files)
        baseline_runs = [r for r in store.runs() if r.id != candidate_run]
        if not baseline_runs:
            console.print("no baseline runs yet: run `make demo` again to compare against this run")
            return
        report = compare(store, [r.id for r in baseline_runs], [candidate_run])
    written = write_report(report, out / "report", ["md", "html", "json"])
    print_summary(report)
    console.print("wrote " + ", ".join(str(p) for p in written))


def run_demo(out: Path, preset: str = "tiny-v2", quant: str = "q4_k_m") -> None:
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    image = make_demo_image(out / "demo.png")
    ckpt = stage_synth(out, preset)
    model_dir = stage_convert(ckpt, out, quant)
    stage_verify(model_dir, ckpt, image, out)
    stage_run(model_dir, image)
    store_path = out / "results.sqlite"
    run_id = stage_bench(model_dir, image, store_path)
    stage_report(store_path, run_id, out)
