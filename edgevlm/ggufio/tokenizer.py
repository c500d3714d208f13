"""The LLM GGUF's tokenizer: LLaMA sentencepiece (`tokenizer.model`) as llama.cpp's SPM vocab reads it.

Every piece with its score and type (normal / unknown / control / unused / byte), the special ids from the
checkpoint's config, BOS added and EOS not (MobileVLM's prompt: one BOS, generation stops at ``</s>``),
``add_space_prefix`` taken from the model's own normalizer (llama.cpp otherwise assumes true), and the
vicuna v1 chat template MobileVLM was trained with. Config vocab rows beyond the sentencepiece model
(padded embedding matrices) become unused ``[PAD{i}]`` pieces so ids and rows stay aligned.
"""
from __future__ import annotations

from pathlib import Path

from gguf import GGUFWriter, TokenType

from edgevlm.checkpoint.config import LLMConfig
from edgevlm.errors import InvalidCheckpoint

SYSTEM_PROMPT = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")

# vicuna v1 (LLaVA/MobileVLM conv_vicuna_v1: sep " ", sep2 "</s>"): one BOS, "SYSTEM USER: q ASSISTANT:"
VICUNA_V1_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set system = messages[0]['content'] -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system = '" + SYSTEM_PROMPT.replace("'", "\\'") + "' -%}{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{{- bos_token + system + ' ' -}}"
    "{%- for message in loop_messages -%}"
    "{%- if message['role'] == 'user' -%}{{- 'USER: ' + message['content'] + ' ' -}}"
    "{%- elif message['role'] == 'assistant' -%}{{- 'ASSISTANT: ' + message['content'] + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- 'ASSISTANT:' -}}{%- endif -%}"
)


def sentencepiece_vocab(model_path: Path, vocab_size: int) -> tuple[list[bytes], list[float], list[int], bool]:
    """(pieces, scores, token types, add_dummy_prefix) for a sentencepiece model, padded to `vocab_size`."""
    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_proto=model_path.read_bytes())
    except Exception as exc:  # protobuf / sentencepiece raise assorted types for a corrupt model
        raise InvalidCheckpoint(f"{model_path.name} is not a valid sentencepiece model: {exc}") from exc
    n = sp.vocab_size()
    if n > vocab_size:
        raise InvalidCheckpoint(f"{model_path.name} has {n} pieces but config.json vocab_size is {vocab_size}")
    pieces, scores, types = [], [], []
    for i in range(n):
        pieces.append(sp.id_to_piece(i).encode("utf-8"))
        scores.append(float(sp.get_score(i)))
        types.append(_token_type(sp, i))
    for i in range(n, vocab_size):
        pieces.append(f"[PAD{i}]".encode())
        scores.append(-1000.0)
        types.append(int(TokenType.UNUSED))
    return pieces, scores, types, _adds_dummy_prefix(sp)


def _adds_dummy_prefix(sp) -> bool:
    """The normalizer's add_dummy_prefix, observed (no protobuf needed): does "a" encode as "▁a…"?"""
    pieces = sp.encode("a", out_type=str)
    return bool(pieces) and pieces[0].startswith("\u2581")


def _token_type(sp, i: int) -> int:
    if sp.is_unknown(i):
        return int(TokenType.UNKNOWN)
    if sp.is_control(i):
        return int(TokenType.CONTROL)
    if sp.is_unused(i):
        return int(TokenType.UNUSED)
    if sp.is_byte(i):
        return int(TokenType.BYTE)
    return int(TokenType.NORMAL)


def add_tokenizer(writer: GGUFWriter, model_path: Path | None, llm: LLMConfig) -> None:
    if model_path is None:
        raise InvalidCheckpoint("the checkpoint has no tokenizer.model",
                                hint="MobileVLM / MobileLLaMA checkpoints ship LLaMA's sentencepiece tokenizer.model")
    pieces, scores, types, dummy_prefix = sentencepiece_vocab(model_path, llm.vocab_size)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(llm.bos_token_id)
    writer.add_eos_token_id(llm.eos_token_id)
    unk = types.index(int(TokenType.UNKNOWN)) if int(TokenType.UNKNOWN) in types else 0
    writer.add_unk_token_id(unk)
    writer.add_pad_token_id(llm.pad_token_id)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(dummy_prefix)
    writer.add_chat_template(VICUNA_V1_TEMPLATE)
