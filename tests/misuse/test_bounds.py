"""Item 2: every numeric option is checked before anything runs (exit 2, one line, no traceback).

Before: `run -n -5`, `--temp nan`, `--threads -4` exited 0; `run -n 99999999999` was ended by the OOM killer at
23 GB; `bench --prompt-tokens 99999999` asked ggml for 48 GB; `build --jobs -3` reached cmake; a workdir
starting with '-' reached mkdir as an option. The model's context comes from its GGUF header
(llama.context_length), here a header-only GGUF of 2048 tokens: no edgevlm-run may start for a request beyond it.
"""
from __future__ import annotations

import pytest
from gguf import GGUFWriter

from tests.misuse.conftest import one_line_error

CONTEXT = 2048


@pytest.fixture
def model(env):
    folder = env.model()
    llm = folder / "tiny-Q8_0.gguf"
    writer = GGUFWriter(str(llm), "llama")
    writer.add_context_length(CONTEXT)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return folder


def _run_args(env, model, *extra):
    return ["run", str(model), "-p", "hi", "--device", "host", "--bundle", str(env.bundle), *extra]


@pytest.mark.parametrize("extra, says", [
    (("-n", "-5"), "-n"), (("--temp", "nan"), "--temp"), (("--temp", "-1"), "--temp"),
    (("--temp", "inf"), "--temp"), (("--threads", "-4"), "--threads"),
    (("-n", "99999999999"), "exceed the model's context of 2048"), (("-n", str(CONTEXT)), "context of 2048"),
])
def test_run_refuses_out_of_bounds_values(env, model, extra, says):
    result = env.run(*_run_args(env, model, *extra))
    assert result.returncode == 2, result.stderr
    assert says in one_line_error(result)
    assert env.started() == 0                                   # nothing ran


def test_run_within_the_context_runs(env, model):
    result = env.run(*_run_args(env, model, "-n", str(CONTEXT - 1)))
    assert result.returncode == 0, result.stderr
    assert env.started() == 1


@pytest.mark.parametrize("extra, says", [
    (("--prompt-tokens", "99999999"), "exceed the model's context of 2048"),
    (("--prompt-tokens", "2000", "--gen", "49"), "2000 prompt + 49 generated"),
    (("--repeat", "0"), "--repeat"), (("--gen", "-1"), "--gen"), (("--threads", "-4"), "--threads"),
    (("--warmup", "-1"), "--warmup"),
])
def test_bench_refuses_out_of_bounds_values(env, model, extra, says):
    args = env.bench_args(model)
    for flag, value in zip(extra[::2], extra[1::2]):            # override the defaults bench_args set
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    result = env.run(*args)
    assert result.returncode == 2, result.stderr
    assert says in one_line_error(result)
    assert env.started() == 0


def test_build_jobs_refused_before_cmake(env):
    result = env.run("build", "--target", "android-arm64", "--jobs", "-3")
    assert result.returncode == 2 and "--jobs" in one_line_error(result)
    assert not (env.root / "build").exists()                    # no build folder: cmake never ran


def test_workdir_starting_with_dash_is_refused(env, model, tmp_path):
    devices = tmp_path / "devices"
    devices.mkdir()
    (devices / "dash.toml").write_text('name = "dash"\ntarget = "host"\ntransport = "ssh"\nworkdir = "-rf"\n'
                                       '[ssh]\nhost = "127.0.0.1"\n')
    env.vars["EDGEVLM_DEVICES_DIR"] = str(devices)
    result = env.run("bench", str(model), "--device", "dash", "--no-image", "--bundle", str(env.bundle))
    assert result.returncode == 2, result.stderr
    assert "starts with '-'" in one_line_error(result)
