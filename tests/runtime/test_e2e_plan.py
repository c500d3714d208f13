"""edgevlm-run's end-to-end savings (kernels/runtime/plan.h): each one switched off on its own (--off), and all of them,
must give the same greedy tokens as all on — they change where and when work and memory happen, never a value.

Token identity is the criterion (no tolerance): the same libllama calls on the same batches. Two tiny models:
the f32 LLM (its weights are used straight from the mapped file, so dropped pages must fault back in intact)
and a q4_0 LLM with a q8_0 mmproj (ggml repacks q4_0 matrices into its own buffers on CPUs with AVX2 or
NEON dotprod; the int8 ViT path is freed after the encode). The padded prompt makes the text after the image
longer than the image chunk, so the sized batch follows the largest chunk.
"""
from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.native

SAVINGS = ("overlap", "free-vision", "drop-pages", "small-buffers")
VARIANTS = ("", *SAVINGS, ",".join(SAVINGS))


@pytest.fixture(scope="module")
def q4_model(tmp_path_factory, synth_ckpt):
    from edgevlm.convert import convert

    out = tmp_path_factory.mktemp("plan") / "tiny-v2-q4_0"
    convert(synth_ckpt("tiny-v2", "bin"), out, quant="q4_0", mmproj_quant="q8_0")
    return out


def _run(binary, folder, image, tmp_path, off: str, *extra: str) -> dict:
    from edgevlm.artifact import find_model

    f = find_model(folder)
    out = tmp_path / f"r-{off or 'none'}.json"
    cmd = [str(binary), "-m", str(f.llm), "--mmproj", str(f.mmproj), "--image", str(image), "-p",
           "What is in the image?", "-n", "10", "-t", "2", "--json", str(out), "--off", off, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("model", ["f32", "q4_0"])
def test_savings_keep_greedy_tokens(model, converted, q4_model, edgevlm_run, test_image, tmp_path):
    folder = converted("tiny-v2") if model == "f32" else q4_model
    records = {off: _run(edgevlm_run, folder, test_image, tmp_path, off, "--prompt-tokens", "400")
               for off in VARIANTS}
    want = records[""]["tokens"]
    assert len(want) > 0
    for off, rec in records.items():
        assert rec["tokens"] == want, f"--off {off!r} changed the greedy tokens"
        assert rec["prompt_tokens"] == 400


def test_record_has_load_included_ttft_and_memory_split(q4_model, edgevlm_run, test_image, tmp_path):
    rec = _run(edgevlm_run, q4_model, test_image, tmp_path, "")
    # TTFT is counted from process start: it holds the image encode and the prompt, and ends before the last token
    assert rec["image_encode_ms"] + rec["prompt_ms"] <= rec["ttft_ms"] <= rec["total_ms"]
    assert rec["llm_load_ms"] > 0 and rec["vision_load_ms"] > 0 and rec["context_ms"] > 0
    # sampled peaks of each kind can only be below the kernel's peak of their sum (1 MB: rounding of kB values)
    assert 0 < rec["peak_anon_mb"] <= rec["peak_rss_mb"] + 1
    assert 0 < rec["peak_file_mb"] <= rec["peak_rss_mb"] + 1


def test_unknown_saving_is_exit_2_one_line(q4_model, edgevlm_run, test_image):
    from edgevlm.artifact import find_model

    f = find_model(q4_model)
    proc = subprocess.run([str(edgevlm_run), "-m", str(f.llm), "-p", "x", "-n", "1", "--off", "overlap,turbo"],
                          capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and '"turbo" is not a saving' in lines[0]


def _cached(binary, folder, image, tmp_path, cache, name: str) -> dict:
    from edgevlm.artifact import find_model

    f = find_model(folder)
    out = tmp_path / f"{name}.json"
    cmd = [str(binary), "-m", str(f.llm), "--mmproj", str(f.mmproj), "--image", str(image), "-p",
           "What is in the image?", "-n", "10", "-t", "2", "--json", str(out), "--prompt-cache", str(cache)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def test_prompt_cache_keeps_greedy_tokens(converted, q4_model, edgevlm_run, test_image, tmp_path):
    """--prompt-cache: written cold, read warm, refused for another model or a damaged file — and the
    greedy tokens are the uncached ones every time."""
    cache = tmp_path / "prefix.kv"
    want = _run(edgevlm_run, q4_model, test_image, tmp_path, "")["tokens"]
    cold = _cached(edgevlm_run, q4_model, test_image, tmp_path, cache, "cold")
    warm = _cached(edgevlm_run, q4_model, test_image, tmp_path, cache, "warm")
    assert (cold["prompt_cache"], warm["prompt_cache"]) == ("written", "hit")
    assert cold["tokens"] == want and warm["tokens"] == want
    # the same tokens but another model file: not read (its KV belongs to other weights), rewritten
    other = _cached(edgevlm_run, converted("tiny-v2"), test_image, tmp_path, cache, "other")
    assert other["prompt_cache"] == "written"
    assert other["tokens"] == _run(edgevlm_run, converted("tiny-v2"), test_image, tmp_path, "")["tokens"]
    # a damaged state file under a matching key: refused, computed again
    rewarm = _cached(edgevlm_run, converted("tiny-v2"), test_image, tmp_path, cache, "rewarm")
    assert rewarm["prompt_cache"] == "hit"
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    damaged = _cached(edgevlm_run, converted("tiny-v2"), test_image, tmp_path, cache, "damaged")
    assert damaged["prompt_cache"] == "written" and damaged["tokens"] == other["tokens"]
