"""`Runtime`: a converted MobileVLM on this host, answered by the runtime's stages in libedgevlm (the C ABI
edgevlm_session_*, kernels/runtime/session.h) — the same C++ generation loop as edgevlm-run and edgevlm-serve,
so greedy output is token-identical to the device binary on the same files. Sampler defaults are the option
table's (kernels/runtime/options.def), read from the library.
"""
from __future__ import annotations

import codecs
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgevlm.artifact import find_model, require_mmproj
from edgevlm.errors import EdgeVLMError
from edgevlm.native.session import NativeSession, sampler_defaults
from edgevlm.native.vision import VisionEncoder
from edgevlm.runtime.memory import MemorySampler


@dataclass
class GenerateResult:
    text: str
    tokens: list[int]
    prompt_tokens: int
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class VisionInfo:
    """Where and how the vision encoder runs (what the load chose)."""
    backend: str
    weight_type: str
    vit_matmul: str
    projector_impl: str


class Runtime:
    def __init__(self, model_dir: str | os.PathLike, threads: int | None = None):
        self.files = find_model(model_dir)
        self.threads = threads or len(os.sched_getaffinity(0))
        self.memory = MemorySampler()
        t0 = time.perf_counter()
        self.session = NativeSession(self.files.llm, self.files.mmproj, self.threads)
        self.load_ms = (time.perf_counter() - t0) * 1000
        s = self.session
        self.vision = VisionInfo(s.info("vision_backend"), s.info("mmproj_type"), s.info("vit_matmul"),
                                 s.info("projector_impl")) if self.files.mmproj else None

    def generate(self, question: str, image: str | os.PathLike | None = None, max_new_tokens: int | None = None,
                 stream: Callable[[str], None] | None = None, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> GenerateResult:
        """Answer `question` (about `image` if given); `stream` receives text pieces as they are decoded.
        Options left None take edgevlm-run's defaults."""
        if image is not None and self.vision is None:
            raise EdgeVLMError(f"{self.files.llm.name} is a text-only model: it cannot take an image")
        d = sampler_defaults()
        n = d.max_tokens if max_new_tokens is None else max_new_tokens
        t0 = time.perf_counter()
        emb = self.session.encode_image(image) if image is not None else None
        n_prompt = self.session.prefill(question, emb, n)
        prompt_ms = (time.perf_counter() - t0) * 1000
        tokens, text, ttft = self._decode(n, stream, t0, d.temperature if temperature is None else temperature,
                                          d.top_k if top_k is None else top_k, d.top_p if top_p is None else top_p,
                                          d.seed if seed is None else seed)
        peaks = self.memory.peaks()
        timings = {"load_ms": self.load_ms, "prompt_ms": prompt_ms, "ttft_ms": ttft,
                   "peak_rss_mb": peaks.rss_mb, "peak_anon_mb": peaks.anon_mb, "peak_file_mb": peaks.file_mb,
                   **({f"image_{k}": v for k, v in self.session.last_image_timings.items()} if emb is not None else {})}
        return GenerateResult(text, tokens, n_prompt, timings)

    def _decode(self, max_tokens: int, stream, t0: float, temperature: float, top_k: int, top_p: float, seed: int):
        """The native loop, with each piece decoded as UTF-8 as it arrives (a character may span tokens)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        tokens: list[int] = []
        pieces: list[str] = []
        first: list[float] = []

        def on_token(token: int, piece: bytes) -> bool:
            if not first:
                first.append((time.perf_counter() - t0) * 1000)
            tokens.append(token)
            text = decoder.decode(piece)
            pieces.append(text)
            if stream and text:
                stream(text)
            return True

        self.session.generate(on_token, max_tokens, temperature, top_k, top_p, seed)
        tail = decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            if stream:
                stream(tail)
        return tokens, "".join(pieces), first[0] if first else 0.0

    def piece(self, token: int) -> bytes:
        """The bytes of one token's text."""
        return self.session.piece(token)

    def close(self) -> None:
        self.session.close()
        self.memory.close()


def encode_image(model_dir: str | os.PathLike, image: str | os.PathLike, threads: int | None = None) -> np.ndarray:
    """The (144, W) float32 image embeddings of a converted model's mmproj."""
    with VisionEncoder(require_mmproj(model_dir), threads) as enc:
        return enc.encode(image)
