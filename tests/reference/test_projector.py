"""The torch LDP / LDPv2 modules agree with the independent numpy implementation (float64 loops).

Tolerance: 1e-4 absolute/relative. The torch side runs in float32; with activations of order 1 and sums of
at most a few hundred terms the expected float32 error is ~1e-6, so 1e-4 has margin while any semantic
slip (wrong GELU, norm axis, pooling, residual, stride, SE placement) moves outputs by ≥1e-2.
"""
from __future__ import annotations

import numpy as np
import pytest

from edgevlm.checkpoint.config import se_channels
from edgevlm.reference.projector import build_ldp_v1, build_ldp_v2
from tests.reference import npref

C, W = 24, 32


def _randomize(module, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.dim() > 1 else 0.5) + (1.0 if "1.weight" in name
                                                                                      and p.dim() == 1 else 0.0))
    return module.eval()


def _numpy_sd(module):
    return {k: v.detach().double().numpy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("tanh", [False, True])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_projector_matches_numpy(version, tanh):
    import torch

    module = build_ldp_v1(C, W, se_channels(W), tanh) if version == "v1" else build_ldp_v2(C, W, tanh)
    _randomize(module, seed=7)
    x = torch.randn(576, C, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours = module(x.unsqueeze(0))[0].double().numpy()
    fn = npref.ldp_v1 if version == "v1" else npref.ldp_v2
    expected = fn(x.double().numpy(), _numpy_sd(module), tanh)
    assert ours.shape == expected.shape == (144, W)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_gelu_variant_matters():
    """The tanh switch (stock's deviation) must change the result measurably, or the check above is blind."""
    import torch

    x = torch.randn(576, C, generator=torch.Generator().manual_seed(3))
    outs = []
    for tanh in (False, True):
        m = _randomize(build_ldp_v2(C, W, tanh), seed=7)
        with torch.no_grad():
            outs.append(m(x.unsqueeze(0))[0])
    assert (outs[0] - outs[1]).abs().max() > 1e-4


def test_tiny_checkpoint_projectors(tiny_v1_ckpt, tiny_v2_ckpt):
    """The projectors as loaded from synth checkpoints (names as stored) agree with numpy too."""
    import torch

    from edgevlm.checkpoint.reader import open_checkpoint
    from edgevlm.reference.pipeline import MobileVLMReference

    for ckpt, fn in ((tiny_v1_ckpt, npref.ldp_v1), (tiny_v2_ckpt, npref.ldp_v2)):
        ref = MobileVLMReference.load(ckpt)
        reader = open_checkpoint(ckpt)
        sd = {n[len("model.mm_projector."):]: reader.get(n).double().numpy() for n in reader.names()
              if n.startswith("model.mm_projector.")}
        x = torch.randn(576, 64, generator=torch.Generator().manual_seed(5))
        np.testing.assert_allclose(ref.project(x).double().numpy(), fn(x.double().numpy(), sd), rtol=1e-4, atol=1e-4)
