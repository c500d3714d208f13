"""The whole reference: prompt tokenization, image splice, logits, greedy generation, llm-only checkpoints."""
from __future__ import annotations

import pytest

from edgevlm.conversation import SYSTEM, build_prompt


@pytest.fixture(scope="module")
def ref_v1(tiny_v1_ckpt):
    from edgevlm.reference.pipeline import MobileVLMReference

    return MobileVLMReference.load(tiny_v1_ckpt)


def test_prompt_template():
    assert build_prompt("What is it?") == f"{SYSTEM} USER: <image>\nWhat is it? ASSISTANT:"
    assert build_prompt("Hi", with_image=False) == f"{SYSTEM} USER: Hi ASSISTANT:"
    assert SYSTEM.startswith("A chat between a curious user") and SYSTEM.endswith("user's questions.")


def test_one_system_prompt_everywhere():
    """edgevlm.conversation.SYSTEM is the home; the GGUF chat template takes it from there and the C++
    runtime reads it from the GGUF (kernels/runtime/prompt.cpp): no copy of the words in the native code.
    That the native runtime reads exactly SYSTEM back: tests/runtime/test_session.py."""
    from pathlib import Path

    from edgevlm.conversation import CHAT_TEMPLATE

    assert SYSTEM.replace("'", "\\'") in CHAT_TEMPLATE
    kernels = Path(__file__).resolve().parents[2] / "kernels"
    copies = [p for p in kernels.rglob("*.[ch]*") if "A chat between" in p.read_text(errors="replace")]
    assert copies == [], f"the system prompt is written again in {copies}"


def test_prompt_ids_one_bos(ref_v1):
    ids = ref_v1.prompt_ids("What is in the picture?")
    assert ids.has_image and ids.before[0] == 1
    assert 1 not in ids.before[1:] + ids.after and 2 not in ids.before + ids.after  # one BOS, no EOS
    assert ref_v1.tokenizer.decode(ids.before[1:]) == f"{SYSTEM} USER: "  # chunk keeps its trailing space
    assert ref_v1.tokenizer.decode(ids.after) == "\nWhat is in the picture? ASSISTANT:"


def test_image_embeddings_spliced_at_placeholder(ref_v1, test_image):
    import torch

    ids = ref_v1.prompt_ids("Describe.")
    embeds = ref_v1.prompt_embeds("Describe.", test_image)
    n0 = len(ids.before)
    assert embeds.shape == (n0 + 144 + len(ids.after), ref_v1.config.llm.hidden_size)
    assert torch.equal(embeds[n0:n0 + 144], ref_v1.encode_image(test_image))
    table = ref_v1.llm.get_input_embeddings().weight
    assert torch.equal(embeds[:n0], table[ids.before]) and torch.equal(embeds[n0 + 144:], table[ids.after])
    logits = ref_v1.prompt_logits("Describe.", test_image)
    assert logits.shape == (embeds.shape[0], ref_v1.config.llm.vocab_size)
    # the image changes what the model predicts after it
    text_only = ref_v1.logits(ids.before + ids.after)
    assert not torch.allclose(logits[-1], text_only[-1], atol=1e-3)


def test_logits_equal_prompt_logits_without_image(ref_v1):
    import torch

    ids = ref_v1.prompt_ids("Hello", with_image=False)
    assert torch.allclose(ref_v1.logits(ids.before), ref_v1.prompt_logits("Hello"), atol=1e-5)


def test_greedy_generation_follows_argmax(ref_v1, test_image):
    """Generation with the KV cache equals re-running the full forward and taking argmax each step."""
    import torch

    out = ref_v1.generate("What is this?", test_image, max_new_tokens=5)
    assert 1 <= len(out) <= 5
    embeds = ref_v1.prompt_embeds("What is this?", test_image)
    table = ref_v1.llm.get_input_embeddings().weight
    for tok in out:
        full = ref_v1.llm(inputs_embeds=embeds.unsqueeze(0)).logits[0, -1]
        assert int(full.argmax()) == tok
        embeds = torch.cat([embeds, table[tok].unsqueeze(0)])


def test_llm_only_checkpoint(tiny_llm_only_ckpt, test_image):
    from edgevlm.errors import UnsupportedModel
    from edgevlm.reference.pipeline import MobileVLMReference

    ref = MobileVLMReference.load(tiny_llm_only_ckpt)
    assert ref.clip is None and len(ref.generate("Hi", max_new_tokens=3)) <= 3
    with pytest.raises(UnsupportedModel):
        ref.encode_image(test_image)


def test_formats_give_same_reference(synth_ckpt, ref_v1, test_image):
    import torch

    from edgevlm.reference.pipeline import MobileVLMReference

    other = MobileVLMReference.load(synth_ckpt("tiny-v1", "safetensors"))
    assert torch.equal(other.encode_image(test_image), ref_v1.encode_image(test_image))
