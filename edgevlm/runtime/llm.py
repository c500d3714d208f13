"""The LLM through llama-cpp-python's low-level API (the same libllama calls edgevlm-run makes): load,
tokenize, feed tokens or embeddings as a batch, sample (greedy, or top-k/top-p/temperature)."""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from edgevlm.errors import LlamaError
from edgevlm.llama_env import import_llama_cpp


@ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
def _quiet_log(level, text, user):  # errors only (GGML_LOG_LEVEL_ERROR = 4), like edgevlm-run without --verbose
    if level == 4:
        import sys

        sys.stderr.write(text.decode(errors="replace"))


class LlamaLLM:
    def __init__(self, gguf: Path, threads: int, n_ctx: int = 2048):
        self.ll = ll = import_llama_cpp()
        ll.llama_log_set(_quiet_log, None)
        ll.llama_backend_init()
        self.model = ll.llama_model_load_from_file(str(gguf).encode(), ll.llama_model_default_params())
        if not self.model:
            raise LlamaError(f"cannot load model {gguf} (not a llama.cpp GGUF?)")
        self.vocab = ll.llama_model_get_vocab(self.model)
        self.n_embd = ll.llama_model_n_embd(self.model)
        self.threads, self.n_ctx = threads, n_ctx
        self.ctx = None

    def new_context(self, n_tokens: int) -> None:
        """A fresh context (empty KV cache) for one generation of at most n_tokens."""
        ll = self.ll
        self.free_context()
        cp = ll.llama_context_default_params()
        cp.n_ctx = max(n_tokens, 16)
        cp.n_batch = cp.n_ubatch = max(512, n_tokens)
        cp.n_threads = cp.n_threads_batch = self.threads
        cp.no_perf = True
        self.ctx = ll.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise LlamaError("cannot create a llama context")

    def tokenize(self, text: str, bos: bool) -> list[int]:
        data = text.encode()
        buf = (self.ll.llama_token * (len(data) + 8))()
        n = self.ll.llama_tokenize(self.vocab, data, len(data), buf, len(buf), bos, False)
        if n < 0:
            raise LlamaError(f"tokenization failed for {text[:40]!r}")
        return list(buf[:n])

    def feed(self, tokens: list[int] | None, embd: np.ndarray | None, pos: int, logits_last: bool) -> int:
        """Decodes tokens (or embedding rows) at positions pos..; returns the next position."""
        n = len(tokens) if tokens is not None else embd.shape[0]
        if n == 0:
            return pos
        ll = self.ll
        batch = ll.llama_batch_init(n, self.n_embd if embd is not None else 0, 1)
        try:
            batch.n_tokens = n
            if embd is not None:
                flat = np.ascontiguousarray(embd, np.float32).ravel()
                ctypes.memmove(batch.embd, flat.ctypes.data, flat.nbytes)
            for i in range(n):
                if tokens is not None:
                    batch.token[i] = tokens[i]
                batch.pos[i] = pos + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = logits_last and i == n - 1
            rc = ll.llama_decode(self.ctx, batch)
        finally:
            ll.llama_batch_free(batch)
        if rc != 0:
            raise LlamaError(f"llama_decode failed (status {rc})")
        return pos + n

    def make_sampler(self, temperature: float, top_k: int, top_p: float, seed: int):
        ll = self.ll
        s = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        if temperature <= 0:
            ll.llama_sampler_chain_add(s, ll.llama_sampler_init_greedy())
        else:
            ll.llama_sampler_chain_add(s, ll.llama_sampler_init_top_k(top_k))
            ll.llama_sampler_chain_add(s, ll.llama_sampler_init_top_p(top_p, 1))
            ll.llama_sampler_chain_add(s, ll.llama_sampler_init_temp(temperature))
            ll.llama_sampler_chain_add(s, ll.llama_sampler_init_dist(seed))
        return s

    def sample(self, sampler) -> int:
        return int(self.ll.llama_sampler_sample(sampler, self.ctx, -1))

    def is_eog(self, token: int) -> bool:
        return bool(self.ll.llama_vocab_is_eog(self.vocab, token))

    def piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = self.ll.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n] if n > 0 else b""

    def free_context(self) -> None:
        if self.ctx:
            self.ll.llama_free(self.ctx)
            self.ctx = None

    def close(self) -> None:
        self.free_context()
        if getattr(self, "model", None):
            self.ll.llama_model_free(self.model)
            self.model = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
