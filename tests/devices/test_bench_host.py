"""`edgevlm bench --device host` for real: the host build's edgevlm-run on a converted tiny-v2 model with an
image, plus stock llama-bench / llama-mtmd-cli on the same workload in the same session (--with-stock): prompt
eval of the same length, decode at the same KV depth (-d), the same image; recorded into a store.

No timing is asserted (house rule); what is asserted is that every metric arrived, once per repetition, and
that the stock records sit beside ours in the store.
"""
from __future__ import annotations

import json

import pytest

from edgevlm.store import ResultsStore
from tests.fixtures_native import native_bin, native_tool  # noqa: F401  (fixtures)

pytestmark = pytest.mark.native


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory, synth_ckpt, native_tool):
    from edgevlm.convert import convert

    for tool in ("libmtmd.so", "edgevlm-run", "llama-bench", "llama-mtmd-cli"):
        native_tool(tool)                     # a missing build fails here, with the name of what is missing
    return convert(synth_ckpt("tiny-v2", "bin"), tmp_path_factory.mktemp("bench") / "model", quant="q8_0",
                   name="tiny").out_dir


def test_host_bench_with_stock(native_tool, tiny_model_dir, test_image, tmp_path):
    from edgevlm.cli import main

    store, out = tmp_path / "results.sqlite", tmp_path / "records.json"
    main(["bench", str(tiny_model_dir), "--device", "host", "--image", str(test_image), "--repeat", "2",
          "--warmup", "1", "--threads", "2", "--prompt-tokens", "160", "--gen", "8", "--with-stock",
          "--store", str(store), "--json", str(out)])
    records = json.loads(out.read_text())
    ours = [r for r in records if r["source"] == "edgevlm"]
    assert len(ours) == 1 and ours[0]["workload"] == "img144+p160+g8" and ours[0]["partial"] is False
    for metric in ("vit_ms", "projector_ms", "prompt_tps", "decode_tps", "ttft_ms", "peak_rss_mb", "peak_anon_mb",
                   "peak_file_mb", "load_ms"):
        assert len(ours[0]["samples"][metric]["values"]) == 2, metric          # one per measured repetition
    samples = ours[0]["samples"]
    for i in range(2):   # each sampled part of the memory is within the kernel's peak of their sum (+1 MiB rounding)
        assert 0 < samples["peak_anon_mb"]["values"][i] <= samples["peak_rss_mb"]["values"][i] + 1
    stock = {r["workload"]: r for r in records if r["source"] == "llama-bench"}
    assert set(stock) == {"pp160", "tg8@d160", "img144"}       # decode after the same 160-token prompt
    assert len(stock["img144"]["samples"]["image_encode_ms"]["values"]) == 2
    with ResultsStore(store) as db:
        assert db.count()[0] == 4
