"""Image-embedding checks: the mmproj through stock llama.cpp (libmtmd) and, once built, edgevlm's own runtime.

Both sides get the same pixels: the image is padded to square with MobileVLM's colour and resized to 336
here (MobileVLM's order), and that 336×336 bitmap is what stock receives — at the model's own size stock
copies it unchanged, so its own resize-then-pad order (defect 4) plays no part. Then:
  * stock vs the reference with stock llama.cpp's graph deviations switched on: proves the FILE is right
    (tolerance: per-token cosine min ≥ 0.999 for f32/f16 files, ≥ 0.99 for q8_0);
  * stock vs the true reference: stock llama.cpp's distance from MobileVLM, measured and reported (info);
  * edgevlm.native.vision (when importable and built) vs the true reference: ≥ 0.9999 f32, ≥ 0.999 f16,
    ≥ 0.99 q8_0 (min per-token cosine).
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from edgevlm.errors import NativeNotBuilt
from edgevlm.images import load_rgb
from edgevlm.llama_env import import_llama_cpp, import_mtmd_cpp, quiet_native_output
from edgevlm.similarity import cosine_stats
from edgevlm.verify.native_llm import model_params
from edgevlm.verify.report import Check

PAD_COLOR = (122, 116, 104)
STOCK_FILE_TOL = {"f32": 0.999, "f16": 0.999, "q8_0": 0.99}
NATIVE_TOL = {"f32": 0.9999, "f16": 0.999, "q8_0": 0.99}


def square_336(image_path: Path, size: int):
    """MobileVLM's pixel pipeline up to uint8: pad to square (centered, rgb(122,116,104)), bicubic resize."""
    from PIL import Image  # lazy: Pillow, images only

    img = load_rgb(image_path)
    w, h = img.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), PAD_COLOR)
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas.resize((size, size), Image.BICUBIC)


def stock_embeddings(mmproj: Path, llm: Path, image, n_threads: int = 2) -> np.ndarray:
    """Image embeddings from stock libmtmd (n_tokens × n_embd) for a PIL image (its loader log captured)."""
    with quiet_native_output():
        return _stock_embeddings(mmproj, llm, image, n_threads)


def _stock_embeddings(mmproj: Path, llm: Path, image, n_threads: int) -> np.ndarray:
    llama_cpp, mtmd = import_llama_cpp(), import_mtmd_cpp()
    model = llama_cpp.llama_model_load_from_file(str(llm).encode(), model_params(llama_cpp))
    if not model:
        raise NativeNotBuilt(f"llama.cpp could not load {llm.name}")
    ctx = chunks = bitmap = None
    try:
        params = mtmd.mtmd_context_params_default()
        params.use_gpu, params.n_threads, params.warmup, params.print_timings = False, n_threads, False, False
        ctx = mtmd.mtmd_init_from_file(str(mmproj).encode(), model, params)
        if not ctx:
            raise NativeNotBuilt(f"stock libmtmd could not load {mmproj.name}")
        rgb = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
        bitmap = mtmd.mtmd_bitmap_init(rgb.shape[1], rgb.shape[0], rgb.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
        chunks = mtmd.mtmd_input_chunks_init()
        marker = mtmd.mtmd_default_marker()
        text = mtmd.mtmd_input_text(marker, len(marker), False, True)
        bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
        if mtmd.mtmd_tokenize(ctx, chunks, ctypes.byref(text), bitmaps, 1) != 0:
            raise RuntimeError("mtmd_tokenize failed")
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_IMAGE:
                if mtmd.mtmd_encode_chunk(ctx, chunk) != 0:
                    raise RuntimeError("mtmd_encode_chunk failed")
                n_tok = mtmd.mtmd_input_chunk_get_n_tokens(chunk)
                n_embd = llama_cpp.llama_model_n_embd(model)
                out = np.ctypeslib.as_array(mtmd.mtmd_get_output_embd(ctx), shape=(n_tok * n_embd,))
                return out.reshape(n_tok, n_embd).copy()
        raise RuntimeError("mtmd produced no image chunk")
    finally:
        if chunks:
            mtmd.mtmd_input_chunks_free(chunks)
        if bitmap:
            mtmd.mtmd_bitmap_free(bitmap)
        if ctx:
            mtmd.mtmd_free(ctx)
        llama_cpp.llama_model_free(model)


def check_stock_file(stock: np.ndarray, ref_stock: np.ndarray, mmproj_quant: str) -> Check:
    s = cosine_stats(stock, ref_stock)
    tol = STOCK_FILE_TOL[mmproj_quant]
    return Check(f"mmproj via stock mtmd vs reference with stock deviations ({mmproj_quant})",
                 s["cos_min"] >= tol, f"cos mean {s['cos_mean']:.6f}, min {s['cos_min']:.6f}",
                 f"min cos ≥ {tol}", s)


def stock_distance(stock: np.ndarray, ref_true: np.ndarray) -> Check:
    s = cosine_stats(stock, ref_true)
    return Check("stock llama.cpp vs true MobileVLM reference (measured, not judged)", None,
                 f"cos mean {s['cos_mean']:.4f}, min {s['cos_min']:.4f}", "—", s)


def native_vision_check(emb: np.ndarray, ref_true: np.ndarray, mmproj_quant: str) -> Check:
    """edgevlm's own vision encoder (C++ on ggml + the LDP kernel) vs the true reference, from the ORIGINAL
    image: the native path does its own pad-then-resize, so preprocessing is part of what is judged."""
    s = cosine_stats(emb, ref_true)
    tol = NATIVE_TOL[mmproj_quant]
    return Check(f"edgevlm native vision vs true reference ({mmproj_quant})", s["cos_min"] >= tol,
                 f"cos mean {s['cos_mean']:.6f}, min {s['cos_min']:.6f}", f"min cos ≥ {tol}", s)
