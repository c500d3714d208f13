"""`verify()`: compare converted GGUF files against the PyTorch reference (edgevlm.reference).

Checks (each with its stated tolerance, see edgevlm.verify.llm / .image): tokenizer parity, LLM logits,
image embeddings through stock llama.cpp (file correctness + stock's measured distance from MobileVLM),
and edgevlm's native vision encoder once it is built. `VerifyReport.ok` is false when any check fails.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import tempfile
from pathlib import Path

import numpy as np

from edgevlm.artifact import find_model
from edgevlm.checkpoint.reader import open_checkpoint
from edgevlm.errors import InputNotFound, InvalidCheckpoint
from edgevlm.images import load_rgb, make_demo_image
from edgevlm.native.vision import VisionEncoder
from edgevlm.progress import err_console
from edgevlm.reference import MobileVLMReference
from edgevlm.reference.llm import batched_logits
from edgevlm.verify import image as image_checks
from edgevlm.verify import llm as llm_checks
from edgevlm.verify.report import Check, VerifyReport

__all__ = ["Check", "VerifyReport", "verify"]


def read_manifest(out_dir: Path) -> dict:
    path = out_dir / "manifest.json"
    if not path.is_file():
        raise InputNotFound(f"no manifest.json in {out_dir}", hint="point at the output folder of `edgevlm convert`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as exc:
        raise InvalidCheckpoint(f"{path} is not valid JSON: {str(exc)[:200]}",
                                hint="convert the checkpoint again") from None
    try:  # the keys verify reads, checked once here instead of a KeyError deep inside
        ok = isinstance(data["files"]["llm"]["name"], str) and isinstance(data["source"]["config_sha256"], str) \
            and isinstance(data["files"]["mmproj"], (dict, type(None)))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise InvalidCheckpoint(f"{path} is not a manifest written by `edgevlm convert` (files / source missing)",
                                hint="convert the checkpoint again")
    return data


def verify(out_dir: str | Path, checkpoint: str | Path, image: str | Path | None = None,
           progress: bool = False, vision_tower: str | Path | None = None) -> VerifyReport:
    """`vision_tower`: the tower override; default: the one `edgevlm convert` was given (manifest.json)."""
    out_dir = Path(out_dir).resolve()
    manifest = read_manifest(out_dir)
    model = find_model(out_dir)             # the files manifest.json lists, confined to the folder
    llm_path, mmproj = model.llm, model.mmproj
    if vision_tower is None:
        vision_tower = (manifest.get("vision_tower") or {}).get("override")
    ckpt = open_checkpoint(checkpoint, vision_tower)
    if manifest["source"]["config_sha256"] != ckpt.config_sha256:
        raise InvalidCheckpoint(f"{out_dir} was converted from a different checkpoint than {ckpt.path}",
                                hint="config.json hashes differ; pass the checkpoint the files came from")
    report = VerifyReport(str(out_dir), str(ckpt.path))
    _status(progress, "tokenizer")
    report.checks.append(llm_checks.check_tokenizer(llm_path, ckpt.path))
    _status(progress, "LLM logits (PyTorch reference, f32, one decoder layer resident at a time)")
    ids = llm_checks.prompt_ids(ckpt.tokenizer_model, ckpt.config.llm.bos_token_id)
    ref_logits = _reference_logits(ckpt, ids)  # the reference LLM is gone before llama.cpp loads a file
    report.checks += llm_checks.logit_checks(ckpt, llm_path, manifest, ref_logits, ids,
                                             lambda what: _status(progress, what))
    if mmproj is not None:
        _status(progress, "image embeddings")
        stored = manifest["vision"]["block_count_stored"]
        report.checks += _image_checks(ckpt, llm_path, mmproj, manifest["mmproj_quant"], stored, image)
    return report


def _status(enabled: bool, what: str) -> None:
    if enabled:
        err_console.print(f"[dim]verifying {what}…[/]")


def _reference_logits(ckpt, ids: list[list[int]]) -> list:
    """Reference logits (float64 numpy) of every prompt, from a streamed f32 LLM freed on return."""
    ref = MobileVLMReference.load(ckpt, vision=False, streamed_llm=True)
    out = [np.asarray(x.float().numpy(), dtype=np.float64) for x in batched_logits(ref.llm, ids)]
    del ref
    _return_freed_memory()
    return out


def _return_freed_memory() -> None:
    """Give the heap the reference freed back to the kernel before llama.cpp maps a GGUF: glibc keeps freed
    arenas resident otherwise, and they would add to the peak that verify's RSS bound (≤ 4 GB) is about."""
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _ref_image(ref, img):
    import torch  # lazy: torch, heavy, optional

    with torch.no_grad():
        emb = ref.encode_image(img)
    return np.asarray(emb.float().reshape(-1, emb.shape[-1]).numpy())


def _image_checks(ckpt, llm_path: Path, mmproj: Path, mmproj_quant: str, stored_layers: int,
                  image) -> list[Check]:
    """llama.cpp's embeddings first (its files unloaded again), then the reference tower, loaded once."""
    img_path = Path(image) if image is not None else _default_image()
    img = image_checks.square_336(img_path, ckpt.config.vision.image_size)
    stock = image_checks.stock_embeddings(mmproj, llm_path, img)
    with VisionEncoder(mmproj) as encoder:  # the native path does its own pad-then-resize: judged too
        native = encoder.encode(img_path)
    ref = MobileVLMReference.load(ckpt, llm=False)
    ref_true, ref_original = _ref_image(ref, img), _ref_image(ref, load_rgb(img_path))
    # the stock graph as it runs on THIS file: CLS order, tanh GELU, block_count - 1 of the stored layers
    ref_stock = _ref_image(ref.with_stock_deviations(ckpt, stored_layers), img)
    return [image_checks.check_stock_file(stock, ref_stock, mmproj_quant),
            image_checks.stock_distance(stock, ref_true),
            image_checks.native_vision_check(native, ref_original, mmproj_quant)]


def _default_image() -> Path:
    """No --image: edgevlm's generated non-square demo picture (in a temp folder, never in OUT)."""
    return make_demo_image(Path(tempfile.mkdtemp(prefix="edgevlm-verify-")) / "demo-410x250.png")
