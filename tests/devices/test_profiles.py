"""Device profiles: the shipped ones load with the values the issue names; bad files name the bad field."""
from __future__ import annotations

import pytest

from edgevlm.device.profiles import load_profile, profile_files
from edgevlm.errors import DeviceError

GOOD = """name = "pixel"
target = "android-arm64"
transport = "adb"
workdir = "/data/local/tmp/edgevlm"
[run]
threads = 4
cpu_mask = "f0"
"""


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    folder = tmp_path / "devices"
    folder.mkdir()
    monkeypatch.setenv("EDGEVLM_DEVICES_DIR", str(folder))
    return folder


def test_shipped_profiles():
    sd888, orin, host = load_profile("sd888"), load_profile("orin"), load_profile("host")
    assert (sd888.target, sd888.transport, sd888.workdir) == ("android-arm64", "adb", "/data/local/tmp/edgevlm")
    assert (sd888.run.threads, sd888.run.cpu_mask) == (4, "f0")        # cpu4-7: the A78/X1 cores
    assert sd888.thermal.zones and sd888.thermal.cooldown_max_s > 0
    assert (orin.target, orin.transport, orin.thermal.monitor) == ("jetson-orin", "ssh", "tegrastats")
    assert orin.run.n_gpu_layers >= 999
    assert (host.target, host.transport) == ("host", "local")


def test_user_adds_a_device_with_one_file(user_dir):
    (user_dir / "pixel.toml").write_text(GOOD)
    assert "pixel" in profile_files()
    assert load_profile("pixel").run.cpu_mask == "f0"


def test_user_file_shadows_shipped_one(user_dir):
    (user_dir / "sd888.toml").write_text(GOOD.replace('"pixel"', '"sd888"').replace("threads = 4", "threads = 2"))
    assert load_profile("sd888").run.threads == 2


@pytest.mark.parametrize("edit, message", [
    (("threads = 4", 'threads = "four"'), "[run].threads must be an integer"),
    (("threads = 4", "threads = true"), "[run].threads must be an integer"),
    (('transport = "adb"', 'transport = "usb"'), "field 'transport' must be one of local, adb, ssh"),
    (('target = "android-arm64"', 'target = "android"'), "field 'target' must be one of"),
    (("[run]", "[run]\ncores = 4"), "unknown field [run].cores"),
    (('workdir =', 'wrokdir ='), "unknown field 'wrokdir'"),
    (('cpu_mask = "f0"', 'cpu_mask = "cpu4-7"'), "[run].cpu_mask must be a hex taskset mask"),
    (('name = "pixel"\n', ""), "missing field 'name'"),
    (('transport = "adb"', 'transport = "ssh"'), "[ssh].host is required"),
    (("[run]", "[run"), "not valid TOML"),
])
def test_invalid_profile_names_the_field(user_dir, edit, message):
    (user_dir / "pixel.toml").write_text(GOOD.replace(*edit))
    with pytest.raises(DeviceError) as info:
        load_profile("pixel")
    assert "pixel.toml" in str(info.value) and message in str(info.value)


def test_unknown_profile_lists_known(user_dir):
    with pytest.raises(DeviceError, match="(?s)no device profile named 'nope'.*sd888"):
        load_profile("nope")


def test_parsers_of_device_output():
    """What the bench reads from the binaries: edgevlm-run JSON metrics and llama-mtmd-cli's encode log line."""
    from edgevlm.bench.parse import mtmd_encode_ms, parse_run_json, run_metrics

    raw = parse_run_json('{"vit_ms": 10.5, "projector_ms": 1, "decode_tps": 20, "text": "x", "ttft_ms": null}', "t")
    assert run_metrics(raw) == {"vit_ms": 10.5, "projector_ms": 1.0, "decode_tps": 20.0}   # null ViT: text-only
    log = "load...\nimage slice encoded in 412 ms\nimage decoded (batch 1/1) in 20 ms\n"
    assert mtmd_encode_ms(log) == 412.0 and mtmd_encode_ms("no image") is None
    pinned = "0.00.032 I encoding mtmd batch, n_chunks = 1\n0.00.061 I mtmd batch encoding done in 28 ms\n"
    assert mtmd_encode_ms(pinned) == 28.0  # the pinned llama-mtmd-cli's line
    with pytest.raises(DeviceError, match="edgevlm-run wrote invalid JSON"):
        parse_run_json("{oops", "t")
