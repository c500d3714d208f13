"""Faithful torch ports of MobileVLM's projectors, with parameter names as stored in the checkpoint.

LDP v1 (``ldpnet``, MobileVLM's LDPNetProjector → LDPBlock): ``model.mlp`` = [Identity, Linear(C→W),
GELU(erf), Linear(W→W)], tokens reshaped to W×24×24, then ``model.mb_block`` = [Identity,
InvertedResidual(stride 1), InvertedResidual(stride 2)] — torchvision's MobileNetV3 block with
expand == in channels (so no expand conv), use_se, "HS" activation:
``block.0`` depthwise 3×3 conv (no bias) → LayerNorm over channels (timm LayerNormAct2d, no act) → Hardswish;
``block.1`` squeeze-excitation (avg pool, fc1 1×1 conv + ReLU, fc2 1×1 conv, Hardsigmoid, scale the input);
``block.2`` pointwise 1×1 conv (no bias) → LayerNorm, no activation; residual when stride 1.

LDPv2 (``ldpnetv2``, LDPNetV2Projector): ``mlp.mlp`` = [Linear, GELU, Linear] → AdaptiveAvgPool2d(12×12)
→ ``peg.peg.0`` depthwise 3×3 conv with bias, added to its input.

``tanh_gelu=True`` swaps the erf GELU for the tanh approximation (ggml's GELU: stock llama.cpp's deviation).
"""
from __future__ import annotations

import math

from edgevlm.checkpoint.config import se_channels
from edgevlm.checkpoint.keys import PROJECTOR_PREFIX


def _torch():
    import torch  # lazy: torch, heavy, optional
    from torch import nn  # lazy: torch, heavy, optional

    return torch, nn


def _channel_layernorm(nn):
    class ChannelLayerNorm(nn.LayerNorm):
        """LayerNorm over the channels of an NCHW map (timm's LayerNorm2d / LayerNormAct2d without act)."""

        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    return ChannelLayerNorm


def build_ldp_v1(c_in: int, width: int, se_width: int, tanh_gelu: bool = False):
    torch, nn = _torch()
    ChannelLayerNorm = _channel_layernorm(nn)

    class SqueezeExcitation(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Conv2d(width, se_width, 1)
            self.fc2 = nn.Conv2d(se_width, width, 1)

        def forward(self, x):
            s = torch.nn.functional.adaptive_avg_pool2d(x, 1)
            s = nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(s))))
            return x * s

    class InvertedResidual(nn.Module):
        def __init__(self, stride: int):
            super().__init__()
            self.residual = stride == 1
            self.block = nn.Sequential(
                nn.Sequential(nn.Conv2d(width, width, 3, stride, 1, groups=width, bias=False),
                              ChannelLayerNorm(width, eps=1e-5), nn.Hardswish()),
                SqueezeExcitation(),
                nn.Sequential(nn.Conv2d(width, width, 1, bias=False), ChannelLayerNorm(width, eps=1e-5)),
            )

        def forward(self, x):
            y = self.block(x)
            return y + x if self.residual else y

    class LDPBlock(nn.Module):
        def __init__(self):
            super().__init__()
            gelu = nn.GELU(approximate="tanh" if tanh_gelu else "none")
            self.mlp = nn.Sequential(nn.Identity(), nn.Linear(c_in, width), gelu, nn.Linear(width, width))
            self.mb_block = nn.Sequential(nn.Identity(), InvertedResidual(1), InvertedResidual(2))

        def forward(self, x):  # (B, N, C) → (B, N/4, W)
            b, n, _ = x.shape
            side = math.isqrt(n)
            x = self.mlp(x).permute(0, 2, 1).reshape(b, -1, side, side)
            return self.mb_block(x).flatten(2).permute(0, 2, 1)

    class LDPNetProjector(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = LDPBlock()

        def forward(self, x):
            return self.model(x)

    return LDPNetProjector()


def build_ldp_v2(c_in: int, width: int, tanh_gelu: bool = False, pooled: int = 12):
    torch, nn = _torch()

    class FeatureIRLayer(nn.Module):
        def __init__(self):
            super().__init__()
            gelu = nn.GELU(approximate="tanh" if tanh_gelu else "none")
            self.mlp = nn.Sequential(nn.Linear(c_in, width), gelu, nn.Linear(width, width))

        def forward(self, x):
            return self.mlp(x)

    class PosInjectLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.peg = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1, bias=True, groups=width))

        def forward(self, x):  # x: (B, W, h, h)
            return self.peg(x) + x

    class LDPNetV2Projector(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = FeatureIRLayer()
            self.peg = PosInjectLayer()

        def forward(self, x):  # (B, N, C) → (B, 144, W)
            b, n, _ = x.shape
            side = math.isqrt(n)
            x = self.mlp(x).permute(0, 2, 1).reshape(b, -1, side, side)
            x = torch.nn.functional.adaptive_avg_pool2d(x, (pooled, pooled))  # TokenDownLayer
            return self.peg(x).flatten(2).transpose(1, 2)

    return LDPNetV2Projector()


def load_projector(cfg, tensors: dict, tanh_gelu: bool = False, dtype=None):
    """Build the projector for `cfg` and load `model.mm_projector.*` tensors strictly (names as stored)."""
    c_in, width = cfg.vision.hidden_size, cfg.llm.hidden_size
    builders = {
        "ldpnet": lambda: build_ldp_v1(c_in, width, se_channels(width), tanh_gelu),
        "ldpnetv2": lambda: build_ldp_v2(c_in, width, tanh_gelu),
    }
    module = builders[cfg.projector_type]()
    state = {k[len(PROJECTOR_PREFIX):]: v for k, v in tensors.items() if k.startswith(PROJECTOR_PREFIX)}
    module.load_state_dict(state, strict=True)
    if dtype is not None:
        module = module.to(dtype)
    return module.eval()
