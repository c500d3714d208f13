"""`edgevlm run --device NAME MODEL_DIR --image IMG -p QUESTION`: one question on a phone or a Jetson.

Same path as the bench (profile → preflight → push, hash-skipped), then one edgevlm-run whose answer streams
back as it is generated; its JSON record (timings, tokens, where the LLM and the ViT ran) is pulled at the end.
The remote process is tracked: a timeout or Ctrl-C ends it on the device too.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgevlm.bench.bounds import MIN_IMAGE_PROMPT_TOKENS, check_tokens, context_length, refusal
from edgevlm.artifact import find_model
from edgevlm.bench.options import run_argv
from edgevlm.bench.parse import parse_run_json
from edgevlm.bench.runner import pinned
from edgevlm.bench.request import DeviceRequest, with_device_quant
from edgevlm.bench.session import Prepared, capped_threads, prepare
from edgevlm.device.tracked import run_tracked
from edgevlm.device.transport import PushStats
from edgevlm.errors import DeviceError, InputNotFound


@dataclass(frozen=True)
class Question:
    """What `edgevlm run --device` asks: the prompt and how to sample the answer."""
    prompt: str
    n_predict: int = 128
    temp: float = 0.0
    seed: int = 0


@dataclass
class DeviceAnswer:
    text: str
    record: dict[str, Any]
    pushed: PushStats


def ask_device(req: DeviceRequest, question: Question, *, on_text: Callable[[str], None] | None = None, warn=None,
               timeout_s: float = 1800.0) -> DeviceAnswer:
    """One question on the device, holding it (lock, own scratch folder) for the length of the answer."""
    req = with_device_quant(req)
    check_question(req.model_dir, req.quant, question, with_image=req.image is not None)
    with prepare(req.but(no_image=req.image is None), warn=warn) as ready:
        out_json = f"{ready.dep.scratch}/answer.json"
        result = run_tracked(ready.transport, _command(ready, req, question, out_json, warn),
                             pid_file=f"{ready.dep.scratch}/answer.pid", name="edgevlm-run", cwd=ready.dep.bundle,
                             env=ready.dep.env, timeout=timeout_s, on_output=on_text or (lambda text: None))
        refused = refusal(result.code, result.stderr or "")
        if refused is not None:
            raise refused
        if result.code != 0:
            raise DeviceError(f"edgevlm-run on {ready.profile.name} {result.describe()}: "
                              f"{(result.stderr or result.stdout).strip()[-600:]}")
        text = ready.transport.read_text(out_json)
        if text is None:
            raise DeviceError(f"edgevlm-run exited 0 but wrote no {out_json}")
        record = parse_run_json(text, f"{ready.transport.name}:{out_json}")
        return DeviceAnswer(record.get("text", ""), record, ready.dep.pushed)


def check_question(model_dir: Path, quant: str | None, question: Question, *, with_image: bool) -> None:
    """-n within the model's context with the least prompt the question can have (BOS, and the image's tokens);
    a folder whose LLM cannot be picked is left to the run to report."""
    try:
        llm = find_model(model_dir, quant).llm
    except InputNotFound:
        return
    check_tokens(context_length(llm), prompt_tokens=MIN_IMAGE_PROMPT_TOKENS if with_image else 1,
                 gen_tokens=question.n_predict, what="-n")


def _command(ready: Prepared, req: DeviceRequest, question: Question, out_json: str, warn=None) -> str:
    profile, dep = ready.profile, ready.dep
    threads = capped_threads(ready, req.threads, warn)
    argv = run_argv("./edgevlm-run", model=dep.llm, mmproj=dep.mmproj if dep.image else None, image=dep.image,
                    prompt=question.prompt, n_predict=question.n_predict, temp=question.temp, seed=question.seed,
                    threads=threads or profile.run.threads or None,
                    n_gpu_layers=profile.run.n_gpu_layers or None, json=out_json)
    return pinned(profile, " ".join(shlex.quote(a) for a in argv))


def timing_line(record: dict[str, Any]) -> str:
    """The timings printed after the answer."""
    parts = [f"{record.get('prompt_tokens', 0)} prompt tokens ({record.get('image_tokens', 0)} image), "
             f"{record.get('gen_tokens', 0)} generated",
             f"load {record.get('load_ms', 0):.0f} ms"]
    if record.get("image_tokens"):
        parts.append(f"image {record.get('image_encode_ms', 0):.0f} ms (ViT {record.get('vit_ms', 0):.0f} on "
                     f"{record.get('vision_backend') or '?'}, projector {record.get('projector_ms', 0):.0f})")
    parts += [f"prompt {record.get('prompt_tps', 0):.1f} tok/s", f"decode {record.get('decode_tps', 0):.1f} tok/s "
              f"(LLM on {record.get('llm_backend', 'CPU')}, {record.get('n_gpu_layers', 0)} GPU layers)",
              f"first token {record.get('ttft_ms', 0):.0f} ms", f"peak RSS {record.get('peak_rss_mb', 0):.0f} MB"]
    return "; ".join(parts)
