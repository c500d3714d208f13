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

from edgevlm.bench.options import run_argv
from edgevlm.bench.parse import parse_run_json
from edgevlm.bench.runner import pinned
from edgevlm.bench.session import Prepared, capped_threads, prepare
from edgevlm.device.tracked import run_tracked
from edgevlm.errors import DeviceError


@dataclass
class DeviceAnswer:
    text: str
    record: dict[str, Any]
    ready: Prepared


def ask_device(device: str, model_dir: Path, prompt: str, *, image: Path | None = None, n_predict: int = 128,
               temp: float = 0.0, seed: int = 0, threads: int = 0, serial: str | None = None,
               host: str | None = None, quant: str | None = None, bundle_dir: Path | None = None,
               on_text: Callable[[str], None] | None = None, warn=None, timeout_s: float = 1800.0,
               transport=None, bundle=None) -> DeviceAnswer:
    ready = prepare(device, model_dir, image=image, no_image=image is None, serial=serial, host=host, quant=quant,
                    transport=transport, bundle=bundle, bundle_dir=bundle_dir, warn=warn)
    profile, dep = ready.profile, ready.dep
    threads = capped_threads(ready, threads, warn)
    out_json = f"{dep.scratch}/answer.json"
    argv = run_argv("./edgevlm-run", model=dep.llm, mmproj=dep.mmproj if dep.image else None, image=dep.image,
                    prompt=prompt, n_predict=n_predict, temp=temp, seed=seed,
                    threads=threads or profile.run.threads or None,
                    n_gpu_layers=profile.run.n_gpu_layers or None, json=out_json)
    ready.transport.shell(f"rm -f {shlex.quote(out_json)}")
    result = run_tracked(ready.transport, pinned(profile, " ".join(shlex.quote(a) for a in argv)),
                         pid_file=f"{dep.scratch}/answer.pid", name="edgevlm-run", cwd=dep.bundle, env=dep.env,
                         timeout=timeout_s, on_output=on_text or (lambda text: None))
    if result.code != 0:
        raise DeviceError(f"edgevlm-run on {profile.name} {result.describe()}: "
                          f"{(result.stderr or result.stdout).strip()[-600:]}")
    text = ready.transport.read_text(out_json)
    if text is None:
        raise DeviceError(f"edgevlm-run exited 0 but wrote no {out_json}")
    record = parse_run_json(text, f"{ready.transport.name}:{out_json}")
    return DeviceAnswer(record.get("text", ""), record, ready)


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
