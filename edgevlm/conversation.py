"""MobileVLM's conversation (``conv_templates["v1"]``, vicuna v1): the one home of the prompt's words.

``{SYSTEM} USER: <image>\\n{question} ASSISTANT:`` — one BOS at the start, turns separated by ``SEP``, an
assistant turn ends with ``SEP2`` (``</s>``). The 144 image embeddings take the place of ``IMAGE_PLACEHOLDER``;
without an image the question follows ``USER: `` directly.

A model fact and a primitive: the runtime, the converter's chat template (embedded in every LLM GGUF, where
edgevlm-run and edgevlm-serve read the system prompt from), the PyTorch reference and the benchmarks' stock
anchors all take it from here. Imports nothing.
"""
from __future__ import annotations

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
USER = "USER"
ASSISTANT = "ASSISTANT"
SEP = " "          # after the system prompt and after each user turn
SEP2 = "</s>"      # after each assistant turn (the EOS piece)
IMAGE_PLACEHOLDER = "<image>"


def build_prompt(question: str, with_image: bool = True) -> str:
    """One user turn, ready for generation (the text around the image as MobileVLM tokenizes it)."""
    user = f"{IMAGE_PLACEHOLDER}\n{question}" if with_image else question
    return f"{SYSTEM}{SEP}{USER}: {user}{SEP}{ASSISTANT}:"


def _jinja_quoted(text: str) -> str:
    return "'" + text.replace("'", "\\'") + "'"


# The GGUF's tokenizer.chat_template (OpenAI-style messages; a leading system message replaces SYSTEM). The
# C++ runtime reads the default system prompt back out of the `set system = '...'` it holds (prompt.cpp).
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set system = messages[0]['content'] -%}{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system = " + _jinja_quoted(SYSTEM) + " -%}{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{{- bos_token + system + '" + SEP + "' -}}"
    "{%- for message in loop_messages -%}"
    "{%- if message['role'] == 'user' -%}{{- '" + USER + ": ' + message['content'] + '" + SEP + "' -}}"
    "{%- elif message['role'] == 'assistant' -%}{{- '" + ASSISTANT + ": ' + message['content'] + eos_token -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '" + ASSISTANT + ":' -}}{%- endif -%}"
)

def single_turn_template(content: str = "message['content']") -> str:
    """One user turn for stock llama-server / llama-mtmd-cli (--jinja --chat-template), the anchors in
    benchmarks/: the image marker sits in the message content (`content`: the Jinja expression that renders it,
    e.g. with a filter that restores the newline after llama-server's media marker), BOS is added by the tool."""
    return ("{%- for message in messages -%}{%- if message['role'] == 'user' -%}"
            + SYSTEM + SEP + USER + ": {{ " + content + " }}" + SEP + ASSISTANT + ":"
            "{%- endif -%}{%- endfor -%}")
