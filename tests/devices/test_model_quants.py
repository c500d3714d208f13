"""The device profile's [model] quants (issue 17 item 4): sd888 names the quant with the best time to first
answer in the arm64 cost model; convert --device and bench/run --device take it; a bad name is refused."""
from __future__ import annotations

import pytest

from edgevlm.bench.request import DeviceRequest, with_device_quant
from edgevlm.device.profiles import load_profile, model_quants
from edgevlm.errors import DeviceError

PROFILE = """name = "phone"
target = "android-arm64"
transport = "adb"
[model]
{model}
"""


def test_sd888_ships_q4_0_with_q8_0_mmproj():
    sd888 = load_profile("sd888")
    assert (sd888.model.quant, sd888.model.mmproj_quant) == ("q4_0", "q8_0")
    assert load_profile("host").model.quant == ""          # no advice: convert's own defaults


@pytest.mark.parametrize("line, field", [('quant = "q5_9"', "[model].quant"),
                                         ('mmproj_quant = "q4_0"', "[model].mmproj_quant"),
                                         ("quant = 4", "[model].quant"), ('quantt = "q4_0"', "[model].quantt")])
def test_bad_model_section_names_the_field(tmp_path, monkeypatch, line, field):
    monkeypatch.setenv("EDGEVLM_DEVICES_DIR", str(tmp_path))
    (tmp_path / "phone.toml").write_text(PROFILE.format(model=line))
    with pytest.raises(DeviceError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_profile("phone")


def test_model_quants_given_ones_win():
    assert model_quants(None, None, None) == ({}, "")
    assert model_quants("sd888", None, None) == ({"quant": "q4_0", "mmproj_quant": "q8_0"},
                                                 "sd888 profile: --quant q4_0 --mmproj-quant q8_0")
    assert model_quants("sd888", "q8_0", None) == ({"quant": "q8_0", "mmproj_quant": "q8_0"},
                                                   "sd888 profile: --mmproj-quant q8_0")
    assert model_quants("host", None, "f16") == ({"mmproj_quant": "f16"}, "")


def _folder(tmp_path, *quants):
    folder = tmp_path / "model"
    folder.mkdir()
    for q in quants:
        (folder / f"tiny-{q.upper()}.gguf").write_bytes(b"GGUF")
    return folder


def test_bench_request_takes_the_profiles_quant_when_the_folder_has_it(tmp_path):
    folder = _folder(tmp_path, "q4_k_m", "q4_0")
    assert with_device_quant(DeviceRequest("sd888", folder)).quant == "q4_0"
    assert with_device_quant(DeviceRequest("sd888", folder, quant="q4_k_m")).quant == "q4_k_m"   # --quant wins
    assert with_device_quant(DeviceRequest("host", folder)).quant is None                        # no advice
    (tmp_path / "b").mkdir()
    only = _folder(tmp_path / "b", "q4_k_m")
    assert with_device_quant(DeviceRequest("sd888", only)).quant is None   # not there: the folder's only LLM
