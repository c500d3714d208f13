"""The CLIP vision tower through transformers' CLIPVisionModel, and stock llama.cpp's deviating graph.

MobileVLM (CLIPVisionTower.feature_select): ``hidden_states[select_layer]`` — the output of
``n_layers_used`` encoder layers (23 of 24 for ViT-L/14-336), no post-layernorm — with the CLS row dropped
→ (576, C).

Stock llama.cpp (tools/mtmd/models/llava.cpp, clip_graph_llava::build at the pinned commit) instead:
patch embeddings with the CLS embedding *appended after* them, position embeddings added in storage order
0..576 (so CLS gets position 576 and patch i gets position i instead of i+1), pre-layernorm, then
``n_layer - 1`` of the layers the mmproj stores (the stock converter stores 23 → 22 run), no post-layernorm
(the stock mmproj has none), then rows 1..576 (drops patch 0, keeps CLS as the last image token).
"""
from __future__ import annotations

import inspect
from edgevlm.checkpoint.keys import TOWER_PREFIX as VISION_PREFIX


def build_clip(vision_cfg, tensors: dict, dtype=None):
    """transformers CLIPVisionModel with the checkpoint's `model.vision_tower.vision_tower.vision_model.*`."""
    from transformers import CLIPVisionConfig, CLIPVisionModel  # lazy: heavy, optional

    v = vision_cfg
    hf = CLIPVisionConfig(hidden_size=v.hidden_size, num_hidden_layers=v.num_hidden_layers,
                          num_attention_heads=v.num_attention_heads, intermediate_size=v.intermediate_size,
                          image_size=v.image_size, patch_size=v.patch_size, layer_norm_eps=v.layer_norm_eps,
                          hidden_act=v.hidden_act, projection_dim=v.projection_dim, attention_dropout=0.0)
    hf._attn_implementation = "eager"  # the plain softmax(QKᵀ/√d)V: the judge should be the textbook math
    model = CLIPVisionModel(hf)
    own = model.state_dict()
    # transformers 4.x keeps the tower under `vision_model.`, 5.x puts it at the top level
    inner = "vision_model." if any(k.startswith("vision_model.") for k in own) else ""
    state = {inner + k[len(VISION_PREFIX):]: t for k, t in tensors.items() if k.startswith(VISION_PREFIX)}
    extra = {k: t for k, t in own.items() if k.endswith("position_ids")}  # a buffer, not a weight
    model.load_state_dict({**extra, **state}, strict=True)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def _tower(model):
    return getattr(model, "vision_model", model)


def image_features(model, vision_cfg, pixels):
    """MobileVLM's feature: hidden_states[select_layer] without CLS → (num_patches, C)."""
    import torch  # lazy: torch, heavy, optional

    with torch.no_grad():
        out = model(pixel_values=pixels.unsqueeze(0).to(model.dtype), output_hidden_states=True)
    hidden = out.hidden_states
    if len(hidden) != vision_cfg.num_hidden_layers + 1:  # embeddings + one per layer, as MobileVLM assumes
        raise RuntimeError(f"CLIPVisionModel returned {len(hidden)} hidden states, expected "
                           f"{vision_cfg.num_hidden_layers + 1}")
    return hidden[vision_cfg.select_layer][0, 1:]


def stock_image_features(model, vision_cfg, pixels, stored_layers: int | None = None):
    """Stock llama.cpp's CLIP graph: CLS last, positions in storage order, `stored_layers - 1` layers, rows 1..N.

    `stored_layers` is how many encoder layers the mmproj holds (stock converter: n_layers_used = 23);
    the graph runs one fewer.
    """
    import torch  # lazy: torch, heavy, optional

    stored = vision_cfg.n_layers_used if stored_layers is None else stored_layers
    if not 1 <= stored <= vision_cfg.num_hidden_layers:
        raise ValueError(f"stored_layers must be in 1..{vision_cfg.num_hidden_layers}, got {stored}")
    tower = _tower(model)
    emb = tower.embeddings
    with torch.no_grad():
        x = pixels.unsqueeze(0).to(model.dtype)
        patches = emb.patch_embedding(x).flatten(2).transpose(1, 2)           # (1, N, C), row-major patches
        cls = emb.class_embedding.reshape(1, 1, -1)
        h = torch.cat([patches, cls], dim=1)                                 # CLS appended *after* the patches
        h = h + emb.position_embedding.weight[: h.shape[1]].unsqueeze(0)    # positions 0..N in storage order
        h = tower.pre_layrnorm(h)
        for layer in tower.encoder.layers[: stored - 1]:                     # n_layer - 1 of the stored layers
            h = _run_layer(layer, h)
        return h[0, 1:]                                                      # rows 1..N: patch 0 out, CLS in


def _run_layer(layer, h):
    extra = {"causal_attention_mask": None} if "causal_attention_mask" in inspect.signature(layer.forward).parameters else {}
    out = layer(h, None, **extra)  # transformers 4.x also wants causal_attention_mask
    return out[0] if isinstance(out, tuple) else out
