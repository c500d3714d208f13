"""Fixtures of the serve tests: the device stand-ins of tests/devices (the fake phone behind the real adb
client, a real sshd on 127.0.0.1) reused as they are, and one tiny converted model for all of them."""
from __future__ import annotations

import pytest

from tests.devices.conftest import adb_server, android_bundle, jetson, phone  # noqa: F401  (pytest fixtures)
from tests.devices.test_device_e2e import orin  # noqa: F401  (devices/orin.toml as shipped, real sshd)


@pytest.fixture(scope="session")
def serve_model(tmp_path_factory, synth_ckpt):
    """tiny-v2 (real 336 px / patch-14 geometry: 144 image tokens), f16 LLM + f16 mmproj: small enough for
    qemu, the same files on every device so their greedy answers can be compared token for token."""
    from edgevlm.convert import convert

    out = tmp_path_factory.mktemp("serve") / "tiny-f16"
    convert(synth_ckpt("tiny-v2", "bin"), out, quant="f16", mmproj_quant="f16", name="tiny")
    return out
