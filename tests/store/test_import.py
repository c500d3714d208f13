import json

import pytest

from edgevlm.cli import main
from edgevlm.errors import InputNotFound, StoreError
from edgevlm.store.importing import Overrides, import_files

from store_helpers import llama_bench_test, make_record


def write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_llama_bench_pp_and_tg_become_raw_samples(store, tmp_path):
    pp = [101.0, 99.5, 100.2, 98.7, 100.9]
    tg = [21.0, 20.7, 21.2, 20.9, 21.1]
    f = write(tmp_path / "lb.json", [llama_bench_test(512, 0, pp), llama_bench_test(0, 128, tg)])
    ids, _ = import_files(store, [f], Overrides(device="host", commit="feedbeef1", branch="pr-7"))
    runs = {r.record.workload: r.record for r in store.runs(ids=ids, with_samples=True)}
    assert runs["pp512"].samples == {"prompt_tps": pp}  # raw samples_ts, not avg_ts
    assert runs["tg128"].samples == {"decode_tps": tg}
    rec = runs["pp512"]
    assert (rec.source, rec.device_name, rec.commit, rec.branch) == ("llama-bench", "host", "feedbeef1", "pr-7")
    assert (rec.model_name, rec.quant, rec.threads) == ("mobilellama-1.4b-Q4_K_M", "Q4_K_M", 2)
    assert rec.llama_cpp_commit == "0c1e57098" and rec.device_fingerprint["cpu_info"] == "AMD EPYC 7B13"
    assert rec.created == "2025-03-01T10:00:00Z"


def test_llama_bench_jsonl_and_pg_skipped(store, tmp_path):
    lines = [llama_bench_test(0, 32, [10.0] * 3), llama_bench_test(64, 32, [5.0] * 3)]
    f = tmp_path / "lb.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ids, loaded = import_files(store, [f])
    assert len(ids) == 1 and "mixed pp+tg" in loaded[0].skipped[0]
    assert store.runs(ids=ids)[0].record.commit == "0c1e57098"  # no --commit: the llama.cpp build commit


def test_edgevlm_single_record_and_list(store, tmp_path):
    one = write(tmp_path / "one.json", make_record(1).to_dict())
    many = write(tmp_path / "many.json", [make_record(2).to_dict(), make_record(3).to_dict()])
    ids, _ = import_files(store, [one, many])
    assert len(ids) == 3 and store.count() == (3, 18)
    assert store.samples(ids[0]) == make_record(1).samples


@pytest.mark.parametrize("bad, field", [
    ([llama_bench_test(512, 0, [1.0, 2.0])] + [{k: v for k, v in llama_bench_test(0, 8, [1.0]).items()
                                                if k != "n_threads"}], "'n_threads'"),
    ([llama_bench_test(512, 0, [1.0]) | {"samples_ts": [1.0, "x"]}], "'samples_ts[1]'"),
    ([llama_bench_test(0, 0, [1.0])], "'n_prompt'"),
    ([make_record().to_dict() | {"threads": -1}], "'threads'"),
    ([make_record().to_dict(), 42], "[1]"),
])
def test_malformed_file_names_file_and_field_and_imports_nothing(store, tmp_path, bad, field):
    good = write(tmp_path / "good.json", make_record(9).to_dict())
    broken = write(tmp_path / "broken.json", bad)
    with pytest.raises(StoreError) as exc:
        import_files(store, [good, broken])  # the good file comes first and must not land either
    assert "broken.json" in str(exc.value) and field in str(exc.value), str(exc.value)
    assert store.count() == (0, 0)


def test_not_json_and_missing_file(store, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("{ not json")
    with pytest.raises(StoreError, match="junk.json: not JSON"):
        import_files(store, [junk])
    with pytest.raises(InputNotFound):
        import_files(store, [tmp_path / "nope.json"])


def test_cli_import_bad_file_exits_2_and_leaves_store_empty(tmp_path, capsys):
    db = tmp_path / "s.sqlite"
    broken = write(tmp_path / "b.json", [make_record().to_dict() | {"samples": {"vit_ms": "slow"}}])
    good = write(tmp_path / "g.json", make_record().to_dict())
    with pytest.raises(SystemExit) as exc:
        main(["results", "import", str(good), str(broken), "--store", str(db)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "b.json" in err and "samples.vit_ms" in err and "Traceback" not in err
    main(["results", "import", str(good), "--store", str(db)])
    main(["results", "list", "--store", str(db)])
    assert "1 run(s)" in capsys.readouterr().out
