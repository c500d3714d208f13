"""A second, independently written MobileVLM vision path in plain numpy (float64, explicit loops).

Written from the model descriptions (REFERENCE.md, MobileVLM's modules), sharing no code with
edgevlm.reference, so the two can judge each other.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erf


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x, tanh=False):
    if tanh:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def hardswish(x):
    return x * np.clip(x + 3, 0, 6) / 6


def hardsigmoid(x):
    return np.clip(x + 3, 0, 6) / 6


def depthwise3x3(x, w, stride, bias=None):
    """x (H, W, C), w (C, 1, 3, 3), zero padding 1 → (H', W', C)."""
    h, wd, c = x.shape
    ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
    out = np.zeros((ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            for di in range(3):
                for dj in range(3):
                    y, z = i * stride + di - 1, j * stride + dj - 1
                    if 0 <= y < h and 0 <= z < wd:
                        out[i, j] += w[:, 0, di, dj] * x[y, z]
    return out + (bias if bias is not None else 0)


def ldp_v1(x, sd, tanh=False, eps=1e-5):
    """x (576, C); sd: the `model.mm_projector.` state dict with that prefix removed (numpy float64)."""
    p = "model."
    h = gelu(x @ sd[p + "mlp.1.weight"].T + sd[p + "mlp.1.bias"], tanh)
    h = h @ sd[p + "mlp.3.weight"].T + sd[p + "mlp.3.bias"]
    side = math.isqrt(h.shape[0])
    g = h.reshape(side, side, -1)  # token n ↔ (row n // side, column n % side)
    for blk, stride in ((1, 1), (2, 2)):
        q = f"{p}mb_block.{blk}.block."
        y = depthwise3x3(g, sd[q + "0.0.weight"], stride)
        y = hardswish(layer_norm(y, sd[q + "0.1.weight"], sd[q + "0.1.bias"], eps))
        s = y.mean(axis=(0, 1))
        s = np.maximum(sd[q + "1.fc1.weight"][:, :, 0, 0] @ s + sd[q + "1.fc1.bias"], 0)
        s = hardsigmoid(sd[q + "1.fc2.weight"][:, :, 0, 0] @ s + sd[q + "1.fc2.bias"])
        y = y * s
        y = y @ sd[q + "2.0.weight"][:, :, 0, 0].T
        y = layer_norm(y, sd[q + "2.1.weight"], sd[q + "2.1.bias"], eps)
        g = y + g if stride == 1 else y
    return g.reshape(-1, g.shape[-1])


def ldp_v2(x, sd, tanh=False):
    h = gelu(x @ sd["mlp.mlp.0.weight"].T + sd["mlp.mlp.0.bias"], tanh)
    h = h @ sd["mlp.mlp.2.weight"].T + sd["mlp.mlp.2.bias"]
    side = math.isqrt(h.shape[0])
    g = h.reshape(side, side, -1)
    pooled = np.zeros((12, 12, g.shape[-1]))
    for i in range(12):
        for j in range(12):
            pooled[i, j] = g[2 * i:2 * i + 2, 2 * j:2 * j + 2].mean(axis=(0, 1))
    out = depthwise3x3(pooled, sd["peg.peg.0.weight"], 1, sd["peg.peg.0.bias"]) + pooled
    return out.reshape(-1, out.shape[-1])


def patch_embed(pixels, w):
    """pixels (3, S, S), w (D, 3, P, P) → (N, D), patches in row-major order."""
    d, _, p, _ = w.shape
    n = pixels.shape[1] // p
    out = np.zeros((n * n, d))
    for r in range(n):
        for c in range(n):
            out[r * n + c] = w.reshape(d, -1) @ pixels[:, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(-1)
    return out


def vit_layer(h, sd, i, heads, eps):
    q = f"encoder.layers.{i}."
    a = layer_norm(h, sd[q + "layer_norm1.weight"], sd[q + "layer_norm1.bias"], eps)
    proj = {n: a @ sd[f"{q}self_attn.{n}_proj.weight"].T + sd[f"{q}self_attn.{n}_proj.bias"] for n in "qkv"}
    t, d = h.shape
    dh = d // heads
    att_out = np.zeros((t, d))
    for hd in range(heads):
        sl = slice(hd * dh, (hd + 1) * dh)
        scores = proj["q"][:, sl] @ proj["k"][:, sl].T / math.sqrt(dh)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        att_out[:, sl] = (scores / scores.sum(-1, keepdims=True)) @ proj["v"][:, sl]
    h = h + att_out @ sd[q + "self_attn.out_proj.weight"].T + sd[q + "self_attn.out_proj.bias"]
    m = layer_norm(h, sd[q + "layer_norm2.weight"], sd[q + "layer_norm2.bias"], eps)
    f = m @ sd[q + "mlp.fc1.weight"].T + sd[q + "mlp.fc1.bias"]
    f = f / (1 + np.exp(-1.702 * f))  # quick_gelu
    return h + f @ sd[q + "mlp.fc2.weight"].T + sd[q + "mlp.fc2.bias"]


def clip_features(pixels, sd, n_layers, heads, eps=1e-5, stock=False):
    """sd: vision_model state dict without prefix. MobileVLM: CLS first, hidden after n_layers, CLS dropped.
    stock=True: CLS appended last, positions in storage order, n_layers run, rows 1..N."""
    patches = patch_embed(pixels, sd["embeddings.patch_embedding.weight"])
    cls = sd["embeddings.class_embedding"][None]
    tokens = np.concatenate([patches, cls] if stock else [cls, patches])
    h = tokens + sd["embeddings.position_embedding.weight"][: tokens.shape[0]]
    h = layer_norm(h, sd["pre_layrnorm.weight"], sd["pre_layrnorm.bias"], eps)
    for i in range(n_layers):
        h = vit_layer(h, sd, i, heads, eps)
    return h[1:]
