import csv
import io
import json
import sqlite3

import pytest

from edgevlm.errors import StoreError
from edgevlm.store import ResultsStore, RunRecord
from edgevlm.store.export import export_text
from edgevlm.store.schema import REVISIONS, SCHEMA_VERSION

from store_helpers import V1_DDL, make_record

def test_v1_store_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_DDL)
    with ResultsStore(path) as store:
        pass
    with sqlite3.connect(path) as db:  # adopted into Alembic at revision 1, then upgraded to the newest
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # every revision applied
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(REVISIONS[-1],)]
    with ResultsStore(path) as store:
        (run,) = store.runs(with_samples=True)
        assert run.record.workload == "" and run.record.samples == {"decode_tps": [20.0, 21.0]}
        store.add_run(make_record(1, workload="pp512"))
        assert store.resolve_ref("main")[0].record.workload == "pp512"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    ResultsStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        ResultsStore(path)


def test_not_a_database_and_missing_store(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable results store"):
        ResultsStore(junk)
    with pytest.raises(StoreError, match="no results store"):
        ResultsStore(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_resolve_ref_by_id_commit_prefix_and_branch(any_store):
    store = any_store
    a = store.add_run(make_record(1, commit="aa11bb22", branch="main", created="2025-01-01T00:00:00Z"))
    b = store.add_run(make_record(2, commit="aa11cc33", branch="main", created="2025-01-02T00:00:00Z"))
    c = store.add_run(make_record(3, commit="ff00ee99", branch="feature/x", created="2025-01-03T00:00:00Z"))
    assert [r.id for r in store.resolve_ref("main")] == [b, a]  # newest first
    assert [r.id for r in store.resolve_ref("AA11")] == [b, a]  # commit prefix, case-insensitive
    assert [r.id for r in store.resolve_ref("aa11c")] == [b]
    assert [r.id for r in store.resolve_ref("feature/x")] == [c]
    assert [r.id for r in store.resolve_ref(f"run:{a}")] == [a] == [r.id for r in store.resolve_ref(f"#{a}")]
    assert [r.id for r in store.resolve_ref(str(c))] == [c]
    with pytest.raises(StoreError, match="matches no run"):
        store.resolve_ref("nope")
    with pytest.raises(StoreError, match="no run with id 77"):
        store.resolve_ref("run:77")


def test_ambiguous_ref_is_an_error(any_store):
    store = any_store
    store.add_run(make_record(1, commit="beef1234"))
    store.add_run(make_record(2, branch="beef"))
    with pytest.raises(StoreError, match="commit and a branch"):
        store.resolve_ref("beef")
    store.add_run(make_record(3, branch="1"))
    with pytest.raises(StoreError, match="run id and a branch"):
        store.resolve_ref("1")
    assert len(store.resolve_ref("run:1")) == 1  # the explicit form always works


def test_empty_store_says_so(store):
    with pytest.raises(StoreError, match="empty"):
        store.resolve_ref("main")


def test_export_json_round_trips_and_csv_has_every_sample(any_store, tmp_path):
    store = any_store
    recs = [make_record(i, throttled=(i == 2)) for i in range(3)]
    store.add_runs(recs)
    runs = store.runs(with_samples=True)
    exported = json.loads(export_text(runs, "json"))
    assert [RunRecord.from_dict(d, "export") for d in reversed(exported)] == recs
    rows = list(csv.DictReader(io.StringIO(export_text(runs, "csv"))))
    assert len(rows) == 3 * 6
    assert {r["throttled"] for r in rows if r["commit"] == recs[2].commit} == {"1"}
    with pytest.raises(StoreError, match="unknown export format"):
        export_text(runs, "xml")
