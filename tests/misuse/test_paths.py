"""Item 3: relative paths mean what the user typed, on every device including `host`; a failed bench stores no
empty run.

Before: `edgevlm run --device host model -p hi` from the model's parent failed (`model model/….gguf does not
exist`: the command ran after a `cd` into the bundle), `bench --image rel.png` too, and each failed bench stored
a run with 0 samples and workload ''.
"""
from __future__ import annotations

import json
import shutil

from edgevlm.store import ResultsStore
from tests.misuse.conftest import one_line_error


def test_run_on_host_with_a_relative_model_folder(env):
    env.model("model")
    result = env.run("run", "--device", "host", "model", "-p", "hi", "--bundle", str(env.bundle),
                     "--json", "answer.json", cwd=env.root)
    assert result.returncode == 0, result.stderr
    assert json.loads((env.root / "answer.json").read_text())["text"] == "a cat"
    [(_, _, model)] = env.runs()
    assert model == str(env.root / "model" / "tiny-Q8_0.gguf")


def test_bench_with_a_relative_image(env, test_image):
    env.model("model")
    shutil.copy(test_image, env.root / "rel.png")
    args = env.bench_args(env.root / "model")
    args[args.index("--no-image")] = "--image"
    args.insert(args.index("--image") + 1, "rel.png")
    args[1] = "model"
    result = env.run(*args, "--json", "out.json", cwd=env.root)
    assert result.returncode == 0, result.stderr
    [record] = json.loads((env.root / "out.json").read_text())
    assert record["extra"]["workload"]["image"] == "rel.png" and record["workload"].startswith("img144+")


def test_a_bench_that_measured_nothing_stores_nothing(env):
    model = env.model()
    (env.bundle / "edgevlm-run").write_text("#!/bin/sh\necho 'error: cannot load' >&2\nexit 1\n")
    result = env.run(*env.bench_args(model))
    assert result.returncode == 2 and "bench stopped" in one_line_error(result)
    with ResultsStore(env.store) as db:
        assert db.count()[0] == 0
