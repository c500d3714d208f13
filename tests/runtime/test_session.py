"""The runtime's stages as every caller sees them: the option table as the one home of defaults and switches,
the system prompt read from the GGUF (no copy in C++), edgevlm-run's memory bound and its signals.

Criteria are exact (defaults, the prompt's words, exit codes, one-line errors, greedy-token identity between an
option and its deprecated environment alias); the memory bound is checked on both sides of the line: a budget
below the KV cache is refused, the machine's MemAvailable is not.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from edgevlm.bench.options import options

pytestmark = pytest.mark.native


def _files(folder):
    from edgevlm.artifact import find_model

    return find_model(folder)


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def test_sampler_defaults_come_from_the_option_table():
    from edgevlm.native.session import sampler_defaults

    table, d = options(), sampler_defaults()
    assert (d.max_tokens, d.temperature, d.top_k, d.seed) == (table["n_predict"].default, table["temp"].default,
                                                              table["top_k"].default, table["seed"].default)
    assert d.top_p == pytest.approx(table["top_p"].default, abs=1e-6)   # float32 in C


def test_serve_options_are_the_tables():
    run, serve = options("edgevlm-run"), options("edgevlm-serve")
    assert {"host", "port", "queue", "image_cache", "max_image_bytes", "model_name"} <= serve.keys()
    assert not {"host", "port", "queue"} & run.keys() and not {"image", "prompt", "json"} & serve.keys()
    shared = run.keys() & serve.keys()
    assert {"model", "mmproj", "threads", "n_gpu_layers", "temp", "top_p", "top_k", "seed"} <= shared


def test_system_prompt_is_read_from_the_gguf(converted):
    from edgevlm.conversation import SYSTEM
    from edgevlm.native.session import NativeSession

    f = _files(converted("tiny-v1"))
    s = NativeSession(f.llm, None, 1)
    try:
        assert s.info("system_prompt") == SYSTEM
    finally:
        s.close()


def test_gguf_without_our_template_is_exit_2(converted, edgevlm_run, tmp_path):
    import gguf
    import numpy as np

    f = _files(converted("tiny-v1"))
    reader = gguf.GGUFReader(f.llm)
    bare = tmp_path / "no-template.gguf"
    writer = gguf.GGUFWriter(bare, reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "tokenizer.chat_template"):
            continue
        writer.add_key_value(field.name, field.contents(), field.types[0],
                             field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None)
    for t in reader.tensors:
        writer.add_tensor(t.name, np.asarray(t.data), raw_shape=t.shape[::-1].tolist(), raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    proc = subprocess.run([str(edgevlm_run), "-m", str(bare), "-p", "hi", "-n", "2"], capture_output=True, text=True,
                          timeout=120)
    lines = _lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "chat template" in lines[0], proc.stderr


def _run(binary, folder, image, tmp_path, *extra, env=None):
    f = _files(folder)
    out = tmp_path / "r.json"
    out.unlink(missing_ok=True)
    cmd = [str(binary), "-m", str(f.llm), "--mmproj", str(f.mmproj), "--image", str(image), "-p",
           "What is in the image?", "-n", "8", "-t", "2", "--no-stream", "--json", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def test_options_and_their_deprecated_env_aliases_agree(converted, edgevlm_run, test_image, tmp_path):
    folder = converted("tiny-v2")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGEVLM_")}
    by_option = _run(edgevlm_run, folder, test_image, tmp_path, "--off", "overlap,small-buffers",
                     "--projector", "ggml", env=clean)[1]
    by_env = _run(edgevlm_run, folder, test_image, tmp_path,
                  env=dict(clean, EDGEVLM_RUN_OFF="overlap,small-buffers", EDGEVLM_PROJECTOR="ggml"))[1]
    assert by_option["projector_impl"] == by_env["projector_impl"] == "ggml"
    assert by_option["tokens"] == by_env["tokens"] and len(by_option["tokens"]) > 0
    proc, _ = _run(edgevlm_run, folder, test_image, tmp_path, "--off", "turbo", env=clean)
    assert proc.returncode == 2 and len(_lines(proc.stderr)) == 1 and '"turbo" is not a saving' in proc.stderr


def test_context_beyond_the_memory_is_refused(converted, edgevlm_run, test_image, tmp_path):
    folder = converted("tiny-v2")
    # a budget that holds the weights but not the KV cache of 60000 tokens: exit 2 before the context exists
    weights = sum(p.stat().st_size for p in (_files(folder).llm, _files(folder).mmproj))
    proc, record = _run(edgevlm_run, folder, test_image, tmp_path, "-c", "60000", "--mem-available",
                        str(weights + (1 << 20)))
    lines = _lines(proc.stderr)
    assert proc.returncode == 2 and record is None and len(lines) == 1, proc.stderr
    assert "KV cache" in lines[0] and "--mem-available" in lines[0]
    # without the option the machine's MemAvailable is the budget: this small context fits
    proc, record = _run(edgevlm_run, folder, test_image, tmp_path)
    assert proc.returncode == 0 and record["gen_tokens"] > 0
    # -n beyond what an int holds is a usage error, not a wrapped number
    proc, _ = _run(edgevlm_run, folder, test_image, tmp_path, "-n", "99999999999")
    assert proc.returncode == 2 and "out of range" in proc.stderr


@pytest.mark.parametrize("when", [0.2, "decoding"])
def test_sigterm_ends_edgevlm_run(converted, edgevlm_run, test_image, tmp_path, when):
    """Early (0.2 s: loading or prefilling) or once tokens stream: the process ends by itself, 128 + 15, and
    writes no record of a cut answer. -n 1700: a long answer that, with the 296 prompt tokens, stays within the
    tiny model's context of 2048 (beyond it edgevlm-run refuses the request)."""
    f = _files(converted("tiny-v2"))
    out = tmp_path / "r.json"
    proc = subprocess.Popen([str(edgevlm_run), "-m", str(f.llm), "--mmproj", str(f.mmproj), "--image",
                             str(test_image), "-p", "Tell me a story.", "-n", "1700", "--ignore-eos",
                             "-t", "2", "--json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if when == "decoding":
        assert proc.stdout.read(1)   # the first piece is out: the decode loop runs
    else:
        time.sleep(when)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    proc.stdout.close()
    proc.stderr.close()
    assert not out.exists()
