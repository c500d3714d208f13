"""Host runtime (native vision + llama-cpp-python) vs edgevlm-run vs the PyTorch reference.

All greedy, f32 LLM and f32 mmproj on tiny synthetic models: token identity is the criterion (no tolerance)
— the same libllama calls with the same batches in both native paths, and f32 everywhere against the reference.
"""
from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.native

QUESTION = "What is in the image?"
N = 12


def _files(folder):
    from edgevlm.artifact import find_model

    return find_model(folder)


def _run_binary(binary, folder, image, json_path, question=QUESTION, n=N, extra=()):
    f = _files(folder)
    cmd = [str(binary), "-m", str(f.llm), "-p", question, "-n", str(n), "-t", "2", "--json", str(json_path), *extra]
    if image is not None:
        cmd += ["--mmproj", str(f.mmproj), "--image", str(image)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(json_path.read_text()), proc.stdout


@pytest.fixture(scope="module")
def runtimes(converted):
    from edgevlm.runtime import Runtime

    made = {}

    def get(preset):
        if preset not in made:
            made[preset] = Runtime(converted(preset), threads=2)
        return made[preset]

    yield get
    for rt in made.values():
        rt.close()


@pytest.mark.parametrize("preset", ["tiny-v1", "tiny-v2"])
def test_runtime_matches_reference_and_binary(preset, converted, reference, runtimes, edgevlm_run, test_image,
                                              tmp_path):
    streamed: list[str] = []
    ours = runtimes(preset).generate(QUESTION, image=test_image, max_new_tokens=N, stream=streamed.append)
    want = reference(preset).generate(QUESTION, test_image, max_new_tokens=N)
    assert ours.tokens == want, "host runtime greedy tokens differ from the PyTorch reference"
    record, stdout = _run_binary(edgevlm_run, converted(preset), test_image, tmp_path / "r.json")
    assert record["tokens"] == ours.tokens, "edgevlm-run greedy tokens differ from the host runtime"
    # random tiny weights emit byte tokens that are not valid UTF-8: texts compare only where both are clean
    assert "".join(streamed) == ours.text
    assert record["text"].rstrip("\ufffd") == stdout.rstrip("\n").rstrip("\ufffd") or "\ufffd" in stdout
    assert record["prompt_tokens"] == ours.prompt_tokens and record["image_tokens"] == 144


def test_text_only_matches(converted, reference, runtimes, edgevlm_run, tmp_path):
    ours = runtimes("tiny-v1").generate("Tell me a story.", max_new_tokens=N)
    assert ours.tokens == reference("tiny-v1").generate("Tell me a story.", None, max_new_tokens=N)
    record, _ = _run_binary(edgevlm_run, converted("tiny-v1"), None, tmp_path / "t.json", "Tell me a story.")
    assert record["tokens"] == ours.tokens and record["image_tokens"] == 0 and record["vit_ms"] == 0


def test_json_record_has_the_contract_keys(converted, edgevlm_run, test_image, tmp_path):
    record, _ = _run_binary(edgevlm_run, converted("tiny-v2"), test_image, tmp_path / "r.json", n=4,
                            extra=("--prompt-tokens", "400"))
    keys = {"load_ms", "vit_ms", "projector_ms", "image_encode_ms", "prompt_tokens", "prompt_ms", "prompt_tps",
            "gen_tokens", "decode_ms", "decode_tps", "ttft_ms", "peak_rss_mb", "llama_commit", "build_flags",
            "text", "tokens"}
    assert keys <= record.keys()
    assert record["prompt_tokens"] == 400  # padded for benchmarks
    assert record["gen_tokens"] == len(record["tokens"]) <= 4
    assert record["vit_ms"] > 0 and record["projector_ms"] > 0 and record["peak_rss_mb"] > 0
    assert record["ttft_ms"] >= record["image_encode_ms"]
    assert record["llama_commit"].startswith("0c1e570")


def _binary_error(binary, *args):
    proc = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, errors="replace",
                          timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return proc.returncode, lines


def test_binary_errors_are_one_line_exit_2(converted, edgevlm_run, test_image, tmp_path):
    v1, v2 = _files(converted("tiny-v1")), _files(converted("tiny-v2"))
    code, lines = _binary_error(edgevlm_run, "-m", v1.llm, "--mmproj", tmp_path / "no.gguf", "--image", test_image, "-p", "x")
    assert code == 2 and len(lines) == 1 and "mmproj" in lines[0] and "does not exist" in lines[0]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    code, lines = _binary_error(edgevlm_run, "-m", v1.llm, "--mmproj", v1.mmproj, "--image", bad, "-p", "x")
    assert code == 2 and len(lines) == 1 and "cannot read image" in lines[0]
    code, lines = _binary_error(edgevlm_run, "-m", v1.llm, "--mmproj", v2.llm, "--image", test_image, "-p", "x")
    assert code == 2 and len(lines) == 1 and "mmproj" in lines[0]


def test_binary_rejects_width_mismatch(converted, edgevlm_run, test_image, tmp_path):
    """An mmproj whose projector width differs from the LLM's n_embd: a clear error, not garbage."""
    import gguf
    import numpy as np

    f = _files(converted("tiny-v2"))
    reader = gguf.GGUFReader(f.mmproj)
    narrow = tmp_path / "mmproj-narrow.gguf"
    writer = gguf.GGUFWriter(narrow, "clip")
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        writer.add_key_value(field.name, field.contents(), field.types[0],
                             field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None)
    for t in reader.tensors:
        data = np.asarray(t.data)
        if t.name.startswith("mm."):  # cut every projector output channel to 32
            data = data[:32] if data.ndim == 1 or t.name.endswith("peg.0.weight") else data[:32, : (32 if "mlp.2" in t.name else data.shape[1])]
        writer.add_tensor(t.name, np.ascontiguousarray(data), raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    code, lines = _binary_error(edgevlm_run, "-m", f.llm, "--mmproj", narrow, "--image", test_image, "-p", "x")
    assert code == 2 and len(lines) == 1 and "width 32" in lines[0] and "n_embd 64" in lines[0]
