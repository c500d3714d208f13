"""A fixed, varied set of ≥ 200 strings for tokenizer parity: empty, whitespace runs, digits, punctuation,
unicode of many scripts, emoji, byte-fallback material, special-looking text. Deterministic (seeded)."""
from __future__ import annotations

import random

_EDGE = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "a", " a", "a ", "  a  b   c    ", "\t\tindent",
    "0", "1", "12", "123", "2024-01-01", "3.14159", "1,000,000", "-42", "+7", "0x1F", "1e-10", "007",
    "Hello, world!", "hello world", "HELLO WORLD", "Hello\nWorld", "Hello\r\nWorld", "tab\tseparated\tvalues",
    "USER: <image>\nWhat is in the picture? ASSISTANT:", "<s>", "</s>", "<unk>", "<s> not special </s>",
    "café", "naïve façade", "Zürich über", "año señor", "smörgåsbord", "Ærø", "ß", "İstanbul", "ǅ",
    "λόγος αβγ", "Москва привет", "данные", "東京", "画像模型", "こんにちは世界", "한국어 텍스트", "עברית",
    "العربية", "हिन्दी", "ไทย", "🙂", "🚀🚀", "👩‍👩‍👧", "✓ → € °C µs ½", "∑∫√∞", "\u200b", "\u00a0nbsp",
    "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "e\u0301 combining", "\U0001F600 grin", "\x00", "\x7f", "~!@#$%^&*()_+",
    "```python\nprint('hi')\n```", "{\"json\": [1, 2, 3]}", "http://example.com/a?b=c&d=e", "a/b\\c",
    "' quote \" double", "....", "!!!???", "--", "—", "–", "…", "«guillemets»", "„low quotes“",
]
_WORDS = ["the", "cat", "image", "model", "edge", "device", "photo", "red", "blue", "quantize", "token",
          "MobileVLM", "llama", "über", "東京", "привет", "🙂", "42", "3.5", "x", "ka", "tori", "enan", "mola"]
_SEPARATORS = [" ", "  ", "\n", "\t", "", ", ", ". ", " - ", "   \n", "\u3000"]


def tokenizer_strings(n_generated: int = 160, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    out = list(_EDGE)
    for _ in range(n_generated):
        k = rng.randint(1, 12)
        parts = []
        for _ in range(k):
            word = rng.choice(_WORDS)
            if rng.random() < 0.2:
                word = word.capitalize()
            if rng.random() < 0.15:
                word = str(rng.randint(0, 10 ** rng.randint(1, 9)))
            parts.append(word + rng.choice(_SEPARATORS))
        text = "".join(parts)
        if rng.random() < 0.2:
            text = rng.choice(_SEPARATORS) + text
        out.append(text)
    return out


# Prompts for logit comparison: short to medium, text only, varied content.
LOGIT_PROMPTS = [
    "A chat between a curious user and an artificial intelligence assistant. USER: What is in the image? ASSISTANT:",
    "The quick brown fox jumps over the lazy dog.",
    "1 2 3 4 5 6 7 8 9 10 11 12",
    "Москва и 東京 are cities; café naïve 🙂",
    "def f(x):\n    return x * 2\n",
    "MobileVLM runs on edge devices with llama.cpp and a quantized model.",
]
