"""edgevlm-run accepts every option the Python side can produce: one table (kernels/runtime/options.def) feeds
both the binary's parser and the runner's argv (edgevlm.bench.options), and the command the bench builds from
each shipped profile runs on the REAL binary with a real converted model.

* sd888's cpu_mask f0 and orin's 6 threads are adapted by the preflight to this machine's online cores, as on a
  device whose cores differ from the profile;
* orin's n_gpu_layers = 999 reaches the binary as -ngl 999: this CPU-only build warns once and runs the LLM on
  the CPU, and the record says where the LLM and the ViT ran;
* an unknown option is refused the same way by the real binary and by the stand-in the orchestration tests use.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from edgevlm.device.deploy import Deployment
from edgevlm.artifact import find_model
from edgevlm.bench.options import options
from edgevlm.bench.runner import BenchSpec, run_command
from edgevlm.device import preflight
from edgevlm.device.local import LocalTransport
from edgevlm.device.profiles import load_profile
from edgevlm.device.transport import PushStats
from edgevlm.paths import host_bin_dir
from tests.fakes.standin_run import standin_script

pytestmark = pytest.mark.native


def test_usage_lists_every_option_of_the_table(edgevlm_run):
    proc = subprocess.run([str(edgevlm_run), "--help"], capture_output=True, text=True)
    assert proc.returncode == 2
    for option in options().values():
        assert f"  {option.flag}" in proc.stderr, option


def test_unknown_option_refused_alike_by_binary_and_standin(edgevlm_run, tmp_path):
    standin = tmp_path / "edgevlm-run"
    standin.write_text(standin_script(0))
    standin.chmod(0o755)
    for argv in (["-m", "x.gguf", "--bogus", "1"], ["-m", "x.gguf", "-ngl"]):
        real = subprocess.run([str(edgevlm_run), *argv], capture_output=True, text=True)
        fake = subprocess.run([str(standin), *argv], capture_output=True, text=True)
        assert real.returncode == fake.returncode == 2
        assert real.stderr.splitlines()[0] == fake.stderr.splitlines()[0]   # "error: unknown option --bogus" ...


@pytest.mark.parametrize("name", ["host", "sd888", "orin"])
def test_shipped_profile_command_runs_on_the_real_binary(name, edgevlm_run, converted, test_image, tmp_path):
    transport = LocalTransport()
    shipped = load_profile(name)
    profile = preflight.check(transport, shipped).apply(shipped)
    model = find_model(converted("tiny-v2", "f16"))
    dep = Deployment(str(host_bin_dir()), str(model.llm), str(model.mmproj), str(test_image), str(tmp_path),
                     PushStats(0, 0, 0))
    out = tmp_path / "run.json"
    spec = BenchSpec(repeat=1, warmup=0, prompt_tokens=200, gen=4)
    result = transport.shell(run_command(dep, profile, spec, str(out)), cwd=dep.bundle, env=dep.env, timeout=600)
    assert result.code == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    # exactly the asked workload, whatever the tokenizer: 144 image tokens inside 200, 4 generated past any EOS
    assert (record["image_tokens"], record["prompt_tokens"], record["gen_tokens"]) == (144, 200, 4)
    assert record["threads"] == profile.run.threads and record["vision_backend"] == "CPU"
    assert (record["llm_backend"], record["n_gpu_layers"]) == ("CPU", 0)
    warnings = result.stderr.count("has no GPU backend; the LLM runs on the CPU")
    assert warnings == (1 if shipped.run.n_gpu_layers else 0), result.stderr
