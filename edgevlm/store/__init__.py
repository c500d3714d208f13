"""The results store holding every raw benchmark sample, with import and export: SQLite embedded, or a shared
PostgreSQL (``postgresql://`` URL); one schema, Alembic migrations.

    from edgevlm.store import ResultsStore, RunRecord
    with ResultsStore(default_store_path()) as store:
        run_id = store.add_run(RunRecord(device_name="sd888", model_name="m", quant="Q4_K_M",
                                         samples={"decode_tps": [21.0, 21.4]}))
"""
from edgevlm.store.db import ResultsStore, StoredRun
from edgevlm.store.metrics import METRICS, Metric, get_metric
from edgevlm.store.record import RunRecord

__all__ = ["ResultsStore", "StoredRun", "RunRecord", "METRICS", "Metric", "get_metric"]
