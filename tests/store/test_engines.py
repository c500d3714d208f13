"""One schema, one migration chain, two engines: SQLite files of every age and a real PostgreSQL server."""
import json
import sqlite3

import pytest
import sqlalchemy as sa

from edgevlm.cli import main
from edgevlm.errors import StoreError
from edgevlm.store import ResultsStore
from edgevlm.store.engine import parse_location
from edgevlm.store.schema import REVISIONS, alembic_config, metadata

from store_helpers import V1_DDL, make_record

# The v2 schema as the PRAGMA-era code left a v1 file: its migration, then a run of the v2 era.
V2_STEP = """
ALTER TABLE runs ADD COLUMN workload TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_group ON runs(device_name, model_name, quant, workload);
UPDATE runs SET workload = 'tg128', device_fingerprint = '{"soc": "SM8350"}';
PRAGMA user_version = 2;
"""


def test_alembic_chain_is_the_revisions_the_code_knows():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    chain = [rev.revision for rev in script.walk_revisions()][::-1]  # walk goes head → base
    assert tuple(chain) == REVISIONS


def test_migrations_build_exactly_the_tables_the_code_queries(any_store):
    """Alembic's own comparison of the migrated database against the Core tables: no missing or extra table,
    column, index or type on either engine."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with any_store._engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_v2_file_is_adopted_and_keeps_its_meaning(tmp_path):
    path = tmp_path / "v2.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1_DDL + V2_STEP)
    with ResultsStore(path) as store:
        (run,) = store.runs(with_samples=True)
        assert run.record.device_fingerprint == {"soc": "SM8350"} and run.record.workload == "tg128"
        assert run.record.samples == {"decode_tps": [20.0, 21.0]}
        store.add_run(make_record(1))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(REVISIONS[-1],)]
        columns = [c[1] for c in db.execute("PRAGMA table_info(runs)")]
        # the v2 file got the columns of every later revision (0003's run_key after 0002's workload), in order
        assert columns.index("workload") < columns.index("run_key")


def test_unknown_revision_is_refused_on_postgres(pg_url):
    ResultsStore(pg_url).close()
    engine = sa.create_engine(parse_location(pg_url).url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 0099"):
        ResultsStore(pg_url)


def test_run_keys_store_a_repeated_write_once(any_store):
    first = any_store.add_runs([make_record(1), make_record(2)], keys=["cell-a/0", "cell-a/1"])
    again = any_store.add_runs([make_record(3), make_record(4), make_record(5)], keys=["cell-a/0", "cell-a/1", None])
    assert again[:2] == first and again[2] not in first
    assert any_store.count() == (3, 18)
    assert any_store.run_ids_for_keys(["cell-a/1", "nope"]) == {"cell-a/1": first[1]}


def test_values_keep_double_precision(any_store):
    """PostgreSQL REAL is 4 bytes: the column must be double precision or this loses digits."""
    run = any_store.add_run(make_record(0, samples={"decode_tps": [21.123456789012345]}))
    assert any_store.samples(run) == {"decode_tps": [21.123456789012345]}


def test_results_migrate_copies_history_once(tmp_path, pg_url, capsys):
    src = tmp_path / "host.sqlite"
    with ResultsStore(src) as store:
        store.add_runs([make_record(i, device_fingerprint={"soc": f"s{i}"}) for i in range(5)])
    before = src.read_bytes()
    main(["results", "migrate", "--from", str(src), "--to", pg_url])
    assert "copied 5 run(s)" in capsys.readouterr().out
    with ResultsStore(src) as store:
        store.add_run(make_record(9))
    main(["results", "migrate", "--from", str(src), "--to", pg_url])
    out = capsys.readouterr().out
    assert "copied 1 run(s)" in out and "5 were there already" in out
    with ResultsStore(src) as a, ResultsStore(pg_url) as b:
        assert b.count() == a.count() == (6, 36)
        assert [r.record for r in a.runs(with_samples=True)] == [r.record for r in b.runs(with_samples=True)]
    assert before[:16] == b"SQLite format 3\x00"


def test_env_store_url_selects_postgres(pg_url, tmp_path, monkeypatch, capsys):
    record = tmp_path / "r.json"
    record.write_text(json.dumps(make_record(3).to_dict()))
    monkeypatch.setenv("EDGEVLM_STORE", pg_url)
    main(["results", "import", str(record)])
    main(["results", "list"])
    out = capsys.readouterr().out
    assert "1 run(s)" in out and "postgresql" in out
    assert not list(tmp_path.glob("*.sqlite"))


def test_bad_store_urls_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["results", "list", "--store", "mysql://u@h/db"])
    assert exc.value.code == 2 and "unknown results store URL scheme" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # nothing listens on port 1
        main(["results", "list", "--store", "postgresql://nobody@127.0.0.1:1/none"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not a usable results store" in err and "Traceback" not in err
