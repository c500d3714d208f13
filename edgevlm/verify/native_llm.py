"""The pinned llama.cpp's LLM through its C API (llama-cpp-python's ctypes layer): load, tokenize, logits.

Weights are loaded with `use_extra_bufts = false` (llama.cpp's `--no-repack`): with the host build's
GGML_NATIVE on a CPU with AMX, ggml's AMX matmul crashes (SIGSEGV in ggml_backend_amx_mul_mat) on the
tiny test models' quantized tensors; the plain CPU path computes the same function.
"""
from __future__ import annotations

import ctypes
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from edgevlm.errors import InvalidCheckpoint
from edgevlm.llama_env import import_llama_cpp


def model_params(llama_cpp):
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = 0
    params.use_extra_bufts = False
    return params


@contextmanager
def loaded_model(path: Path, vocab_only: bool = False) -> Iterator[tuple[object, object]]:
    """(llama_cpp module, llama_model pointer), freed on exit."""
    llama_cpp = import_llama_cpp()
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's load log: errors only
    params = model_params(llama_cpp)
    params.vocab_only = vocab_only
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise InvalidCheckpoint(f"llama.cpp could not load {path}")
    try:
        yield llama_cpp, model
    finally:
        llama_cpp.llama_model_free(model)


def tokenize(llama_cpp, model, text: str, add_bos: bool = False) -> list[int]:
    vocab = llama_cpp.llama_model_get_vocab(model)
    data = text.encode("utf-8")
    cap = len(data) + 8
    buf = (llama_cpp.llama_token * cap)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, cap, add_bos, False)
    if n < 0:
        raise RuntimeError(f"llama_tokenize needs {-n} slots")
    return list(buf[:n])


def all_logits(llama_cpp, model, ids: list[int], n_threads: int = 2) -> np.ndarray:
    """(T, V) logits of every position of one sequence, in one batch."""
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = max(64, len(ids))
    cparams.n_threads = cparams.n_threads_batch = n_threads
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    if not ctx:
        raise RuntimeError("llama_init_from_model failed")
    batch = llama_cpp.llama_batch_init(len(ids), 0, 1)
    try:
        for i, tok in enumerate(ids):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, True
        batch.n_tokens = len(ids)
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
        ptr = llama_cpp.llama_get_logits(ctx)
        return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                     shape=(len(ids), n_vocab)).astype(np.float64)
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
