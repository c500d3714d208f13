"""The CLIP path (transformers CLIPVisionModel) against an independent numpy ViT, and the stock switch.

Tolerance: 1e-3 absolute on features of order 1 (float32 torch vs float64 numpy through 3 ViT layers with
LayerNorms and softmax: observed error ~1e-5; a wrong layer count, CLS handling or position shift moves
features by O(1)).
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.reference import npref

VPREFIX = "model.vision_tower.vision_tower.vision_model."


@pytest.fixture(scope="module")
def tiny(tiny_v2_ckpt, test_image):
    from edgevlm.checkpoint.reader import open_checkpoint
    from edgevlm.reference.pipeline import MobileVLMReference

    reader = open_checkpoint(tiny_v2_ckpt)
    sd = {n[len(VPREFIX):]: reader.get(n).double().numpy() for n in reader.names() if n.startswith(VPREFIX)}
    ref = MobileVLMReference.load(tiny_v2_ckpt)
    stock = MobileVLMReference.load(tiny_v2_ckpt, stock_deviations=True)
    pixels = ref.preprocess(test_image)
    return ref, stock, sd, pixels


def test_features_match_numpy_vit(tiny):
    ref, _, sd, pixels = tiny
    v = ref.config.vision
    ours = ref.image_features(pixels).double().numpy()
    expected = npref.clip_features(pixels.double().numpy(), sd, v.n_layers_used, v.num_attention_heads)
    assert ours.shape == (576, v.hidden_size) and v.n_layers_used == v.num_hidden_layers - 1
    np.testing.assert_allclose(ours, expected, atol=1e-3)


def test_stock_features_match_numpy_stock_graph(tiny):
    """Stock: CLS appended last, positions 0..576 in order, (stored - 1) layers, rows 1..576."""
    ref, stock, sd, pixels = tiny
    v = ref.config.vision
    ours = stock.image_features(pixels).double().numpy()
    expected = npref.clip_features(pixels.double().numpy(), sd, v.n_layers_used - 1, v.num_attention_heads,
                                   stock=True)
    np.testing.assert_allclose(ours, expected, atol=1e-3)


def test_stock_position_permutation_explicit(tiny):
    """With zero layers run (1 stored), stock row k is LN(patch k+1 + pos k+1) and its last row is
    LN(CLS + pos 576); MobileVLM's row k is LN(patch k + pos k+1)."""
    from edgevlm.reference import vision as vision_mod

    ref, _, sd, pixels = tiny
    eps = ref.config.vision.layer_norm_eps
    patches = npref.patch_embed(pixels.double().numpy(), sd["embeddings.patch_embedding.weight"])
    pos, cls = sd["embeddings.position_embedding.weight"], sd["embeddings.class_embedding"]

    def ln(x):
        return npref.layer_norm(x, sd["pre_layrnorm.weight"], sd["pre_layrnorm.bias"], eps)

    got = vision_mod.stock_image_features(ref.clip, ref.config.vision, pixels, stored_layers=1).double().numpy()
    for k in (0, 1, 100, 574):
        np.testing.assert_allclose(got[k], ln(patches[k + 1] + pos[k + 1]), atol=1e-4)
    np.testing.assert_allclose(got[575], ln(cls + pos[576]), atol=1e-4)
    # MobileVLM's embedding output (hidden_states[0]) for comparison: patch k with position k+1
    import torch

    with torch.no_grad():
        h0 = ref.clip(pixel_values=pixels.unsqueeze(0), output_hidden_states=True).hidden_states[0][0, 1:]
    np.testing.assert_allclose(h0[3].double().numpy(), ln(patches[3] + pos[4]), atol=1e-4)


def test_stock_switch_changes_embeddings(tiny, test_image):
    import torch

    ref, stock, _, _ = tiny
    a, b = ref.encode_image(test_image), stock.encode_image(test_image)
    assert a.shape == b.shape == (144, ref.config.llm.hidden_size)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    assert cos.mean() < 0.99  # measured ≈0.89 on tiny-v2 (REFERENCE.md reports 0.854 mean for stock mtmd)


def test_stored_layers_parameter(tiny):
    from edgevlm.reference import vision as vision_mod

    ref, _, _, pixels = tiny
    v = ref.config.vision
    all_stored = vision_mod.stock_image_features(ref.clip, v, pixels, stored_layers=v.num_hidden_layers)
    default = vision_mod.stock_image_features(ref.clip, v, pixels)
    assert not np.allclose(all_stored.numpy(), default.numpy(), atol=1e-3)
    with pytest.raises(ValueError):
        vision_mod.stock_image_features(ref.clip, v, pixels, stored_layers=v.num_hidden_layers + 1)
