"""The Python binding's contract: clear, typed errors for bad names, shapes, versions and inputs, and the
native library's own identity (version, SIMD path)."""
from __future__ import annotations

import numpy as np
import pytest

from edgevlm.errors import NativeNotBuilt, TensorMappingError
from edgevlm.native import LdpInputError, LdpProjector, ldp_project, ldp_tensor_names, native_info
from edgevlm.native.ldp_random import random_ldp_weights

pytestmark = pytest.mark.native


@pytest.fixture(scope="module")
def ldp_lib(native_tool):
    return native_tool("libedgevlm.so")


@pytest.fixture(scope="module")
def tiny_v2():
    return random_ldp_weights("v2", 16, 24, seed=1)


def test_tensor_names_match_the_checkpoint():
    v1, v2 = ldp_tensor_names("v1"), ldp_tensor_names("v2")
    assert len(v1) == 24 and len(v2) == 6  # REFERENCE.md: 24 tensors for ldpnet, 6 for ldpnetv2
    assert "model.mm_projector.model.mb_block.1.block.0.0.weight" in v1
    assert "model.mm_projector.model.mlp.1.weight" in v1
    assert set(v2) == {f"model.mm_projector.{n}" for n in (
        "mlp.mlp.0.weight", "mlp.mlp.0.bias", "mlp.mlp.2.weight", "mlp.mlp.2.bias", "peg.peg.0.weight", "peg.peg.0.bias")}


def test_native_info(ldp_lib):
    info = native_info()
    assert info["simd"] in {"avx512f", "avx2+fma", "neon+fp16+dotprod", "neon+fp16", "neon", "scalar"}
    assert info["version"].count(".") == 2
    assert info["int8_dot"] in {"avx512vnni", "neon-dotprod", ""}
    # the build follows the host CPU (GGML_NATIVE): an AVX512-VNNI CPU must get the int8 path compiled in
    flags = open("/proc/cpuinfo").read().split()
    if info["simd"] == "avx512f" and "avx512_vnni" in flags and "avx512bw" in flags:
        assert info["int8_dot"] == "avx512vnni"


def test_missing_tensor_is_named(ldp_lib, tiny_v2):
    broken = dict(tiny_v2)
    del broken["model.mm_projector.peg.peg.0.bias"]
    with pytest.raises(TensorMappingError, match="peg.peg.0.bias"):
        LdpProjector(broken, "v2")


def test_wrong_version_reports_foreign_tensors(ldp_lib, tiny_v2):
    with pytest.raises(TensorMappingError, match="unexpected .*mlp.mlp.0.weight"):
        LdpProjector(tiny_v2, "v1")


def test_misshaped_tensor_is_named(ldp_lib, tiny_v2):
    broken = dict(tiny_v2)
    broken["model.mm_projector.mlp.mlp.2.weight"] = np.zeros((24, 23), np.float32)
    with pytest.raises(TensorMappingError, match=r"mlp.mlp.2.weight: shape \(24, 23\), expected \(24, 24\)"):
        LdpProjector(broken, "v2")


def test_unrelated_checkpoint_tensors_are_ignored(ldp_lib, tiny_v2):
    x = np.ones((64, 16), np.float32)
    full = dict(tiny_v2, **{"model.layers.0.mlp.up_proj.weight": np.zeros((2, 2), np.float32)})
    np.testing.assert_array_equal(ldp_project(x, full, "v2", threads=1), ldp_project(x, tiny_v2, "v2", threads=1))


def test_squeezed_mmproj_shapes_accepted(ldp_lib, tiny_v2):
    squeezed = dict(tiny_v2)
    squeezed["model.mm_projector.peg.peg.0.weight"] = tiny_v2["model.mm_projector.peg.peg.0.weight"][:, 0]
    x = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    np.testing.assert_array_equal(ldp_project(x, squeezed, "v2", threads=1), ldp_project(x, tiny_v2, "v2", threads=1))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((576, 15), np.float32), r"features must be \(n_tokens, 16\)"),
    (np.zeros((575, 16), np.float32), "n_tokens must be g\\*g with g even"),
    (np.zeros((81, 16), np.float32), "n_tokens must be g\\*g with g even"),
    (np.zeros(16, np.float32), "features must be"),
])
def test_bad_features(ldp_lib, tiny_v2, bad, match):
    with pytest.raises(LdpInputError, match=match):
        LdpProjector(tiny_v2, "v2").forward(bad, threads=1)


def test_bad_version_dtype_threads(ldp_lib, tiny_v2):
    with pytest.raises(LdpInputError, match="unknown LDP version 'v3'"):
        LdpProjector(tiny_v2, "v3")
    with pytest.raises(LdpInputError, match="unknown weight dtype 'q4'"):
        LdpProjector(tiny_v2, "v2", dtype="q4")
    with pytest.raises(LdpInputError, match="threads must be >= 1"):
        LdpProjector(tiny_v2, "v2").forward(np.zeros((64, 16), np.float32), threads=0)


def test_library_missing_is_native_not_built(tmp_path, monkeypatch, tiny_v2):
    monkeypatch.setenv("EDGEVLM_HOST_BIN", str(tmp_path))
    with pytest.raises(NativeNotBuilt, match="run `make native`"):
        ldp_project(np.zeros((576, 16), np.float32), tiny_v2, "v2")
