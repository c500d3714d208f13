"""`Runtime`: a converted MobileVLM on this host — native vision encoder + libllama via llama-cpp-python.

Generation mirrors edgevlm-run step for step (same prompt, same tokenizer calls, same batches, same
sampler chain), so greedy output is token-identical to the device binary on the same files.
"""
from __future__ import annotations

import codecs
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgevlm.errors import EdgeVLMError, ModelMismatch
from edgevlm.conversation import IMAGE_PLACEHOLDER, build_prompt
from edgevlm.artifact import find_model


@dataclass
class GenerateResult:
    text: str
    tokens: list[int]
    prompt_tokens: int
    timings: dict[str, float] = field(default_factory=dict)


class Runtime:
    def __init__(self, model_dir: str | os.PathLike, threads: int | None = None):
        from edgevlm.native.vision import VisionEncoder
        from edgevlm.runtime.llm import LlamaLLM

        from edgevlm.runtime.memory import MemorySampler

        self.files = find_model(model_dir)
        self.threads = threads or len(os.sched_getaffinity(0))
        self.memory = MemorySampler()
        t0 = time.perf_counter()
        self.llm = LlamaLLM(self.files.llm, self.threads)
        self.vision = VisionEncoder(self.files.mmproj, self.threads) if self.files.mmproj else None
        if self.vision and self.vision.n_embd != self.llm.n_embd:
            raise ModelMismatch(f"mmproj {self.files.mmproj.name} projects to width {self.vision.n_embd} but the "
                                f"LLM {self.files.llm.name} has n_embd {self.llm.n_embd}",
                                hint="use the mmproj written together with this LLM by `edgevlm convert`")
        self.load_ms = (time.perf_counter() - t0) * 1000

    def prompt_tokens(self, question: str, with_image: bool) -> tuple[list[int], list[int]]:
        """(before, after) <image>: MobileVLM's chunked tokenization, one BOS; no image: ([], all)."""
        prompt = build_prompt(question, with_image)
        if not with_image:
            return [], self.llm.tokenize(prompt, bos=True)
        before, after = prompt.split(IMAGE_PLACEHOLDER)
        return self.llm.tokenize(before, bos=True), self.llm.tokenize(after, bos=False)

    def generate(self, question: str, image: str | os.PathLike | None = None, max_new_tokens: int = 128,
                 stream: Callable[[str], None] | None = None, temperature: float = 0.0, top_k: int = 40,
                 top_p: float = 0.95, seed: int = 0) -> GenerateResult:
        """Answer `question` (about `image` if given); `stream` receives text pieces as they are decoded."""
        if image is not None and self.vision is None:
            raise EdgeVLMError(f"{self.files.llm.name} is a text-only model: it cannot take an image")
        t0 = time.perf_counter()
        emb = self.vision.encode(Path(image)) if image is not None else None
        before, after = self.prompt_tokens(question, emb is not None)
        n_prompt = len(before) + len(after) + (0 if emb is None else emb.shape[0])
        llm = self.llm
        llm.new_context(n_prompt + max_new_tokens + 8)
        sampler = llm.make_sampler(temperature, top_k, top_p, seed)
        try:
            t1 = time.perf_counter()
            pos = llm.feed(before, None, 0, False)
            if emb is not None:
                pos = llm.feed(None, emb, pos, not after)
            pos = llm.feed(after, None, pos, True)
            prompt_ms = (time.perf_counter() - t1) * 1000
            tokens, text, ttft = self._decode_loop(sampler, pos, max_new_tokens, stream, t0)
        finally:
            llm.ll.llama_sampler_free(sampler)
            llm.free_context()
        peaks = self.memory.peaks()
        timings = {"load_ms": self.load_ms, "prompt_ms": prompt_ms, "ttft_ms": ttft,
                   "peak_rss_mb": peaks.rss_mb, "peak_anon_mb": peaks.anon_mb, "peak_file_mb": peaks.file_mb,
                   **({f"image_{k}": v for k, v in self.vision.last_timings.items()} if emb is not None else {})}
        return GenerateResult(text, tokens, n_prompt, timings)

    def _decode_loop(self, sampler, pos: int, max_new_tokens: int, stream, t0: float):
        llm = self.llm
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        tokens: list[int] = []
        pieces: list[str] = []
        ttft = 0.0
        for i in range(max_new_tokens):
            tok = llm.sample(sampler)
            if i == 0:
                ttft = (time.perf_counter() - t0) * 1000
            if llm.is_eog(tok):
                break
            tokens.append(tok)
            piece = decoder.decode(llm.piece(tok))
            pieces.append(piece)
            if stream and piece:
                stream(piece)
            pos = llm.feed([tok], None, pos, True)
        tail = decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            if stream:
                stream(tail)
        return tokens, "".join(pieces), ttft

    def close(self) -> None:
        if self.vision:
            self.vision.close()
        self.llm.close()
        self.memory.close()


def encode_image(model_dir: str | os.PathLike, image: str | os.PathLike, threads: int | None = None) -> np.ndarray:
    """The (144, W) float32 image embeddings of a converted model's mmproj."""
    from edgevlm.native.vision import VisionEncoder
    from edgevlm.artifact import require_mmproj

    with VisionEncoder(require_mmproj(model_dir), threads) as enc:
        return enc.encode(image)
