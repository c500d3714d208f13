"""MobileVLM's image-token tokenization of its conversation (the words: edgevlm.conversation).

Prompt: ``{SYSTEM} USER: <image>\\n{question} ASSISTANT:``. MobileVLM's ``tokenizer_image_token`` tokenizes
the text before and after ``<image>`` separately with the LLaMA (sentencepiece) tokenizer — each chunk gets
sentencepiece's dummy-prefix space — keeps one BOS at the very start, and the 144 image embeddings take the
place of ``<image>``. Without an image the question follows ``USER: `` directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

from edgevlm.conversation import IMAGE_PLACEHOLDER, build_prompt


@dataclass(frozen=True)
class PromptIds:
    before: list[int]        # BOS + tokens before <image> (all tokens when there is no image)
    after: list[int]         # tokens after <image> (empty when there is no image)
    has_image: bool


class PromptTokenizer:
    """sentencepiece from the checkpoint's tokenizer.model; BOS once, no EOS (add_bos_token, not add_eos)."""

    def __init__(self, model_file: Path, bos_id: int = 1):
        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.bos_id = bos_id

    def encode(self, text: str) -> list[int]:
        return list(self.sp.encode(text))

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def prompt_ids(self, question: str, with_image: bool = True) -> PromptIds:
        prompt = build_prompt(question, with_image)
        if not with_image:
            return PromptIds([self.bos_id] + self.encode(prompt), [], False)
        before, after = prompt.split(IMAGE_PLACEHOLDER, 1)  # ours is the first one
        return PromptIds([self.bos_id] + self.encode(before), self.encode(after), True)
