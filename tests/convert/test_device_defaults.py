"""`edgevlm convert --device sd888` writes the profile's quants (Q4_0 LLM, q8_0 mmproj) and says so."""
from __future__ import annotations

import subprocess
import sys


def _convert(ckpt, out, *args):
    return subprocess.run([sys.executable, "-m", "edgevlm", "convert", str(ckpt), "-o", str(out), *args],
                          capture_output=True, text=True)


def test_convert_device_sd888_takes_q4_0_and_q8_0_mmproj(tiny_v2_ckpt, tmp_path):
    proc = _convert(tiny_v2_ckpt, tmp_path / "o", "--device", "sd888")
    assert proc.returncode == 0, proc.stderr
    assert "sd888 profile: --quant q4_0 --mmproj-quant q8_0" in proc.stdout
    names = sorted(p.name for p in (tmp_path / "o").glob("*.gguf"))
    assert [n for n in names if not n.startswith("mmproj")][0].endswith("-Q4_0.gguf")
    assert any(n.startswith("mmproj") and "q8_0" in n.lower() for n in names), names


def test_convert_explicit_quant_beats_the_device(tiny_v2_ckpt, tmp_path):
    proc = _convert(tiny_v2_ckpt, tmp_path / "o", "--device", "sd888", "--quant", "q8_0")
    assert proc.returncode == 0, proc.stderr
    assert "sd888 profile: --mmproj-quant q8_0" in proc.stdout and "--quant" not in proc.stdout.split("profile:")[1]
    assert any(p.name.endswith("-Q8_0.gguf") for p in (tmp_path / "o").glob("*.gguf"))


def test_convert_unknown_device_exit_2(tiny_v2_ckpt, tmp_path):
    proc = _convert(tiny_v2_ckpt, tmp_path / "o", "--device", "no-such-phone")
    assert proc.returncode in (2, 3) and "no device profile named" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
