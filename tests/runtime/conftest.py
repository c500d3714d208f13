"""Fixtures of the runtime tests: converted tiny models, the reference, and the edgevlm-run binary."""
from __future__ import annotations

import pytest

from tests.runtime.models import make_converter, make_reference


@pytest.fixture(scope="session")
def converted(tmp_path_factory, synth_ckpt):
    """converted(preset, mmproj_quant="f32") -> folder written by `edgevlm convert` (LLM f32)."""
    return make_converter(tmp_path_factory, synth_ckpt)


@pytest.fixture(scope="session")
def reference(synth_ckpt):
    """reference(preset) -> MobileVLMReference of the tiny checkpoint (f32), cached."""
    return make_reference(synth_ckpt)


@pytest.fixture(scope="session")
def edgevlm_run(native_tool):
    return native_tool("edgevlm-run")
