"""A real LLaMA-style sentencepiece tokenizer for synthetic checkpoints.

BPE with byte fallback, ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, no pad piece (pad_id -1, as LLaMA's
tokenizer.model), digits split, identity normalization — trained on a generated corpus of varied text
(pseudo-words with a Zipf-like frequency, numbers, punctuation, accented Latin, Greek, Cyrillic, CJK, emoji).

The corpus depends only on a fixed seed, so the model depends only on the vocabulary size: every synthetic
checkpoint of one vocab size shares one tokenizer, trained once and cached (same bytes every time).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
from pathlib import Path

import sentencepiece as spm

from edgevlm.errors import OutputError
from edgevlm.files import write_bytes

CORPUS_VERSION = 1  # bump when the corpus or trainer options change: it is part of the cache key
_CORPUS_SEED = 20240101
_SYLLABLES = ("ka", "to", "ri", "en", "an", "mo", "la", "is", "or", "ne", "th", "st", "qu", "ex", "pl", "br",
              "ch", "sh", "ou", "ai", "ze", "vi", "gu", "do", "re", "mi", "fa", "so", "lu", "ti", "xo", "ph")
_UNICODE_WORDS = ("café", "naïve", "Zürich", "façade", "año", "señor", "über", "smörgåsbord", "élan", "Ærø",
                  "λόγος", "αβγ", "Москва", "привет", "данные", "東京", "画像", "模型", "こんにちは", "한국어",
                  "🙂", "🚀", "✓", "→", "€", "°C", "µs", "½", "ß", "ñ")
_PUNCT = (".", ",", "!", "?", ";", ":", "—", "-", "(", ")", "\"", "'", "/", "%", "#", "@", "&", "*", "[", "]")


def _lexicon(rng: random.Random, n: int) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def corpus_lines(n_lines: int, n_words: int) -> list[str]:
    """Deterministic varied text: Zipf-distributed pseudo-words, numbers, punctuation, unicode, case."""
    rng = random.Random(_CORPUS_SEED)
    lexicon = _lexicon(rng, n_words)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(lexicon))]
    lines = []
    for _ in range(n_lines):
        tokens = []
        for word in rng.choices(lexicon, weights, k=rng.randint(4, 24)):
            roll = rng.random()
            if roll < 0.08:
                word = word.capitalize()
            elif roll < 0.12:
                word = str(rng.randint(0, 10 ** rng.randint(1, 6)))
            elif roll < 0.15:
                word = rng.choice(_UNICODE_WORDS)
            tokens.append(word + (rng.choice(_PUNCT) if rng.random() < 0.1 else ""))
        lines.append(" ".join(tokens))
    return lines


def _corpus_size(vocab_size: int) -> tuple[int, int]:
    """(lines, distinct words) large enough that BPE can reach `vocab_size` pieces."""
    return max(2000, vocab_size * 2), max(500, vocab_size * 3)


def train_tokenizer_model(vocab_size: int) -> bytes:
    """Train the sentencepiece model (BPE, LLaMA options) and return its serialized bytes."""
    n_lines, n_words = _corpus_size(vocab_size)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines(n_lines, n_words)), model_writer=buf,
        model_type="bpe", vocab_size=vocab_size, byte_fallback=True, split_digits=True,
        character_coverage=0.99995, normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, allow_whitespace_only_pieces=True, split_by_unicode_script=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        max_sentence_length=16384, num_threads=1, minloglevel=2, input_sentence_size=0,
        shuffle_input_sentence=False,
    )
    return buf.getvalue()


def cache_dir() -> Path:
    env = os.environ.get("EDGEVLM_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgevlm"
    return base / "tokenizers"


def tokenizer_model_bytes(vocab_size: int) -> bytes:
    """The cached tokenizer.model for `vocab_size`, training it on first use."""
    key = hashlib.sha256(f"v{CORPUS_VERSION}-bpe-{vocab_size}".encode()).hexdigest()[:16]
    path = cache_dir() / f"sp-{vocab_size}-{key}.model"
    if path.is_file():
        return path.read_bytes()
    data = train_tokenizer_model(vocab_size)
    try:  # the cache is an optimisation: an unwritable cache only costs a retrain next time
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)
    except (OSError, OutputError):
        pass
    return data


def write_tokenizer_files(out_dir: Path, vocab_size: int, max_length: int) -> None:
    """tokenizer.model + the LLaMA-style JSON side files (no chat template: MobileVLM's is in code)."""
    out_dir = Path(out_dir)
    try:
        (out_dir / "tokenizer.model").write_bytes(tokenizer_model_bytes(vocab_size))
        for name, content in _side_files(max_length).items():
            (out_dir / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write tokenizer files to {out_dir}: {exc}") from exc


def _side_files(max_length: int) -> dict[str, dict]:
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    return {
        "tokenizer_config.json": {
            "add_bos_token": True, "add_eos_token": False, "clean_up_tokenization_spaces": False,
            "legacy": False, "model_max_length": max_length, "pad_token": None, "padding_side": "right",
            "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer", **specials,
        },
        "special_tokens_map.json": specials,
    }
