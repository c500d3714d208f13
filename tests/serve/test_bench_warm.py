"""`edgevlm bench --warm`: the warm measurement through edgevlm serve, stored as metrics of its own."""
from __future__ import annotations

import json

import pytest

from tests.serve.client import server_processes

pytestmark = pytest.mark.native


def test_bench_warm_on_the_host_stores_warm_ttft(serve_model, tmp_path):
    from edgevlm.cli import main
    from edgevlm.store import ResultsStore

    out, store = tmp_path / "warm.json", tmp_path / "results.sqlite"
    main(["bench", str(serve_model), "--device", "host", "--warm", "--repeat", "3", "--warmup", "1", "--gen", "4",
          "-t", "2", "--store", str(store), "--json", str(out)])
    [record] = json.loads(out.read_text())
    samples = record["samples"]
    assert set(samples) == {"warm_ttft_ms", "warm_followup_ttft_ms"}          # never mixed with ttft_ms (load)
    assert all(len(s["values"]) == 3 and all(v > 0 for v in s["values"]) for s in samples.values())
    assert record["workload"].startswith("warm:img+p") and record["workload"].endswith("+g4")
    runs = record["extra"]["runs"]
    assert [r["warmup"] for r in runs] == [True, False, False, False]
    assert all(r["new"]["completion_tokens"] == 4 and r["same"]["completion_tokens"] == 4 for r in runs)
    with ResultsStore(str(store)) as db:
        assert len(db.runs()) == 1
    assert server_processes(serve_model) == []                                         # the server ended with the bench


def test_bench_warm_refuses_with_stock(serve_model, capsys):
    from edgevlm.cli import main

    with pytest.raises(SystemExit) as refused:
        main(["bench", str(serve_model), "--device", "host", "--warm", "--with-stock"])
    assert refused.value.code == 2 and "--warm measures edgevlm-serve only" in capsys.readouterr().err
