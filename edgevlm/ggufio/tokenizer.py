"""The LLM GGUF's tokenizer: LLaMA sentencepiece (`tokenizer.model`) as llama.cpp's SPM vocab reads it.

Built with gguf-py's own `SentencePieceVocab` (every piece with its score and type; added_tokens.json
entries as USER_DEFINED) and `SpecialVocab` (special ids, add_bos / add_eos from tokenizer_config.json and
config.json) — the classes llama.cpp's converters use. ``add_space_prefix`` is taken from the model's own
normalizer (llama.cpp otherwise assumes true), and the vicuna v1 chat template MobileVLM was trained with is
embedded. Config vocab rows beyond the tokenizer (padded embedding matrices) become unused ``[PAD{i}]``
pieces so ids and rows stay aligned.
"""
from __future__ import annotations

from pathlib import Path

from gguf import GGUFWriter, TokenType
from gguf.vocab import SentencePieceVocab, SpecialVocab

from edgevlm.checkpoint.config import LLMConfig
from edgevlm.conversation import CHAT_TEMPLATE  # vicuna v1, from the one home of the conversation
from edgevlm.errors import InvalidCheckpoint


def sentencepiece_vocab(ckpt_dir: Path, vocab_size: int) -> tuple[list[bytes], list[float], list[int], bool]:
    """(pieces, scores, token types, add_dummy_prefix) as gguf-py's own SentencePieceVocab reads them
    (tokenizer.model + added_tokens.json: added tokens become USER_DEFINED), padded to `vocab_size`."""
    model_path = ckpt_dir / "tokenizer.model"
    try:
        vocab = SentencePieceVocab(ckpt_dir)
        entries = list(vocab.all_tokens())
    except ValueError as exc:  # added_tokens.json ids that do not follow the base vocabulary
        raise InvalidCheckpoint(f"added_tokens.json in {ckpt_dir} does not fit tokenizer.model: {exc}") from exc
    except Exception as exc:  # protobuf / sentencepiece raise assorted types for a corrupt model
        raise InvalidCheckpoint(f"{model_path.name} is not a valid sentencepiece model: {exc}") from exc
    if len(entries) > vocab_size:
        raise InvalidCheckpoint(f"{model_path.name} + added_tokens.json hold {len(entries)} tokens but config.json "
                                f"vocab_size is {vocab_size}")
    pieces = [text for text, _, _ in entries]
    scores = [float(score) for _, score, _ in entries]
    types = [int(t) for _, _, t in entries]
    for i in range(len(entries), vocab_size):  # padded embedding rows, as llama.cpp's converters name them
        pieces.append(f"[PAD{i}]".encode())
        scores.append(-1000.0)
        types.append(int(TokenType.UNUSED))
    return pieces, scores, types, _adds_dummy_prefix(vocab.sentencepiece_tokenizer)


def _adds_dummy_prefix(sp) -> bool:
    """The normalizer's add_dummy_prefix, observed (no protobuf needed): does "a" encode as "▁a…"?"""
    pieces = sp.encode("a", out_type=str)
    return bool(pieces) and pieces[0].startswith("\u2581")


def add_tokenizer(writer: GGUFWriter, ckpt_dir: Path, llm: LLMConfig) -> None:
    if not (ckpt_dir / "tokenizer.model").is_file():
        raise InvalidCheckpoint("the checkpoint has no tokenizer.model",
                                hint="MobileVLM / MobileLLaMA checkpoints ship LLaMA's sentencepiece tokenizer.model")

    pieces, scores, types, dummy_prefix = sentencepiece_vocab(ckpt_dir, llm.vocab_size)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    # special ids and add_bos/add_eos from tokenizer_config.json / config.json, read by gguf-py
    special = SpecialVocab(ckpt_dir, load_merges=False, n_vocab=len(pieces))
    special.chat_template = None  # MobileVLM's template lives in its code: ours (vicuna v1) is added below
    special.special_token_ids.setdefault("bos", llm.bos_token_id)
    special.special_token_ids.setdefault("eos", llm.eos_token_id)
    special.special_token_ids.setdefault("pad", llm.pad_token_id)
    if "unk" not in special.special_token_ids and int(TokenType.UNKNOWN) in types:
        special.special_token_ids["unk"] = types.index(int(TokenType.UNKNOWN))
    special.add_special_token.setdefault("bos", True)   # LlamaTokenizer's defaults: one BOS, no EOS
    special.add_special_token.setdefault("eos", False)
    special.add_to_gguf(writer, quiet=True)
    writer.add_add_space_prefix(dummy_prefix)
    writer.add_chat_template(CHAT_TEMPLATE)
