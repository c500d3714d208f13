"""android-arm64 end to end: the bundle `edgevlm build --target android-arm64` made, pushed through the real
adb client to the fake Snapdragon 888 (qemu -cpu cortex-a76), run there.

* same greedy tokens as the host build on a tiny model. Tolerance: exact token ids. Weights are Q8_0, so the
  matrix products are exact integer dot products on both ISAs; only the float accumulation order differs
  (~1e-6 relative), far below the logit gaps of a random tiny model's greedy choices.
* under -cpu cortex-a72 (ARMv8.0: no dotprod, no fp16 arithmetic) the same binary dies with SIGILL: proof that
  the dotprod/fp16 build really uses those instructions.

Needs the cross build: a missing bundle fails (not skips) unless EDGEVLM_ALLOW_SKIP_NATIVE=1.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from edgevlm.paths import host_bin_dir
from tests.devices.conftest import missing_build, require_fake_phones
from tests.fakes.fake_adbd import FakeAdbDevice

pytestmark = pytest.mark.cross
GEN = 16
PROMPT = "the cat sat on the mat and looked at the sky"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, synth_ckpt):
    from edgevlm.convert import convert

    out = tmp_path_factory.mktemp("tiny-model")
    result = convert(synth_ckpt("tiny-v2", "bin"), out / "model", quant="q8_0", mmproj_quant="f16", name="tiny")
    return result


def _host_tokens(model) -> list[int]:
    runner = host_bin_dir() / "edgevlm-run"
    if not runner.exists():
        missing_build(f"{runner} not built: run `make native`")
    out = model.out_dir.parent / "host.json"
    proc = subprocess.run([str(runner), "-m", str(model.llm), "-p", PROMPT, "-n", str(GEN), "-t", "2",
                           "--json", str(out)], capture_output=True, text=True,
                          errors="replace", timeout=600)  # streamed byte tokens may split UTF-8
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())["tokens"]


def _phone_run(transport, bundle, model, remote="/data/local/tmp/edgevlm"):
    transport.push_tree(bundle.path, f"{remote}/bundle")
    transport.push(model.llm, f"{remote}/models/{model.llm.name}")
    line = (f"taskset f0 ./edgevlm-run -m {remote}/models/{model.llm.name} -p '{PROMPT}' -n {GEN} -t 4 "
            f"--json {remote}/out.json")
    return transport.shell(line, cwd=f"{remote}/bundle", timeout=1800)


def test_same_greedy_tokens_as_host(phone, android_bundle, tiny_model):
    _, transport = phone
    result = _phone_run(transport, android_bundle, tiny_model)
    assert result.code == 0, result.stderr[-2000:]
    phone_tokens = json.loads(transport.read_text("/data/local/tmp/edgevlm/out.json"))["tokens"]
    assert len(phone_tokens) == GEN
    assert phone_tokens == _host_tokens(tiny_model)


def test_cortex_a72_gets_illegal_instruction(tmp_path, adb_server, android_bundle, tiny_model):
    from edgevlm.device.adb import AdbTransport

    require_fake_phones()
    with FakeAdbDevice(tmp_path / "a72", cpu="cortex-a72") as device:
        transport = AdbTransport(adb_server.connect(device.port), server_port=adb_server.port)
        result = _phone_run(transport, android_bundle, tiny_model)
    assert result.code == 128 + 4, (result.code, result.stderr[-500:])     # SIGILL
    assert "illegal instruction" in result.stderr.lower()


@pytest.mark.parametrize("test_binary, simd", [("test-edgevlm-ldp", "SIMD neon+fp16+dotprod"),
                                                ("test-edgevlm-q8", "path neon-dotprod"),
                                                ("test-edgevlm-f16", "NEON fp16 arithmetic")])
def test_kernel_tests_pass_on_the_phone_isa(test_binary, simd):
    """The C++ kernel tests (normalised error vs double references), cross-built with the phone's flags and run
    as a Cortex-A76: the NEON / fp16 / sdot code paths that x86 ctest never compiles."""
    from edgevlm.paths import target_build_dir

    binary = target_build_dir("android-arm64") / "bin" / test_binary
    if not binary.is_file():
        missing_build(f"{binary} not built: run `edgevlm build --target android-arm64`")
    proc = subprocess.run(["qemu-aarch64-static", "-cpu", "cortex-a76", str(binary)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
    assert simd in proc.stdout and "0 failure(s)" in proc.stdout
