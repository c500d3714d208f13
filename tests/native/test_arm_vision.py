"""The arm64 vision path against MobileVLM in PyTorch: edgevlm-run of the android-arm64 bundle under
qemu-aarch64 as a Cortex-A76 (the Snapdragon 888's ISA: armv8.2-a + dotprod + fp16), where the ViT runs on
edgevlm's fp16 NEON attention (kernels/f16/attention.h) and its matrices on the fp16 GEMM (f16 mmproj) or the
sdot int8 GEMM (q8_0). x86 never compiles those paths; the kernels' own tests (test-edgevlm-f16/-q8 under qemu,
tests/devices/test_cross.py) check them against double references, this checks the whole encoder.

Tolerances: the README's per-token cosine bounds of the image embeddings (min over the 144 tokens) against the
reference: >= 0.999 f16, >= 0.99 q8_0 (as tests/native/test_vision.py on the host). Expected margins: fp16
attention and GEMM round to 2^-11 relative with sums flushed to f32 (kernel NMSE <= 5e-5, i.e. cosine
~1 - 2e-5 per layer); q8_0 adds the int8 rounding of the activations (host: >= 0.99993).
"""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from tests.devices.conftest import missing_build
from tests.runtime.models import per_token_cosine

pytestmark = [pytest.mark.native, pytest.mark.slow]  # two qemu runs of ~1 min

COSINE_MIN = {"f16": 0.999, "q8_0": 0.99}
IMPL = {"f16": "f16-gemm/neon-fp16+f16-attention", "q8_0": "int8-gemm/neon-dotprod+f16-attention"}


def _arm_run():
    from edgevlm.paths import target_build_dir

    binary = target_build_dir("android-arm64") / "bin" / "edgevlm-run"
    if not binary.is_file():
        missing_build(f"{binary} not built: run `edgevlm build --target android-arm64`")
    if not shutil.which("qemu-aarch64-static"):
        missing_build("qemu-aarch64-static not installed: run `make sysdeps`")
    return binary


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_arm64_embeddings_match_reference(converted, reference, test_image, tmp_path, quant):
    from edgevlm.artifact import find_model

    binary = _arm_run()
    model = find_model(converted("tiny-v2", quant))
    embd, record = tmp_path / "embd.f32", tmp_path / "run.json"
    proc = subprocess.run(["qemu-aarch64-static", "-cpu", "cortex-a76", str(binary), "-m", str(model.llm),
                           "--mmproj", str(model.mmproj), "--image", str(test_image), "-t", "2", "-p", "Hi",
                           "-n", "1", "--no-stream", "--dump-embd", str(embd), "--json", str(record)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(record.read_text())["vit_matmul"] == IMPL[quant]  # the NEON kernels ran, not ggml's
    ref = reference("tiny-v2").encode_image(test_image).numpy()
    ours = np.fromfile(embd, dtype="<f4").reshape(ref.shape)
    cos = per_token_cosine(ours, ref)
    assert cos.min() >= COSINE_MIN[quant], f"min per-token cosine {cos.min():.6f} ({quant})"
