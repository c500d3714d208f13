"""Builders for store tests: real records and llama-bench objects as the pinned llama-bench writes them."""
from __future__ import annotations

from edgevlm.store import RunRecord

# The v1 schema exactly as it shipped (frozen here on purpose: an edit to the v1 migration must not pass).
V1_DDL = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, git_commit TEXT NOT NULL DEFAULT '',
  branch TEXT NOT NULL DEFAULT '', source TEXT NOT NULL CHECK (source IN ('edgevlm', 'llama-bench')),
  device_name TEXT NOT NULL, device_fingerprint TEXT NOT NULL DEFAULT '{}', build_flags TEXT NOT NULL DEFAULT '{}',
  llama_cpp_commit TEXT NOT NULL DEFAULT '', model_name TEXT NOT NULL, quant TEXT NOT NULL DEFAULT '',
  model_hashes TEXT NOT NULL DEFAULT '{}', threads INTEGER, throttled INTEGER NOT NULL DEFAULT 0,
  partial INTEGER NOT NULL DEFAULT 0, extra TEXT NOT NULL DEFAULT '{}');
CREATE TABLE samples (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, metric TEXT NOT NULL,
  rep INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, PRIMARY KEY (run_id, metric, rep));
CREATE INDEX runs_commit ON runs(git_commit);
CREATE INDEX runs_branch ON runs(branch);
INSERT INTO runs (created, git_commit, branch, source, device_name, model_name, quant, threads)
  VALUES ('2025-01-01T00:00:00Z', 'abc1234', 'main', 'edgevlm', 'sd888', 'm', 'Q4_K_M', 4);
INSERT INTO samples VALUES (1, 'decode_tps', 0, 20.0, 'tok/s'), (1, 'decode_tps', 1, 21.0, 'tok/s');
PRAGMA user_version = 1;
"""


def make_record(i: int = 0, **overrides) -> RunRecord:
    fields = dict(device_name="sd888", model_name="MobileVLM_V2-1.7B", quant="Q4_K_M", commit=f"{i:07x}abc",
                  branch="main", threads=4, workload="img336+p64+g32",
                  samples={"decode_tps": [20.0 + i, 20.5 + i, 19.5 + i], "vit_ms": [400.0, 401.0, 399.0]})
    fields.update(overrides)
    return RunRecord(**fields)


def llama_bench_test(n_prompt: int, n_gen: int, ts: list[float], **overrides) -> dict:
    """One test object with every field the pinned llama-bench's json_printer writes (get_fields + samples)."""
    obj = {
        "build_commit": "0c1e57098", "build_number": 1, "cpu_info": "AMD EPYC 7B13", "gpu_info": "",
        "backends": "CPU", "model_filename": "/models/mobilellama-1.4b-Q4_K_M.gguf",
        "model_type": "llama 1.4B Q4_K - Medium", "model_size": 812345678, "model_n_params": 1414270976,
        "n_batch": 2048, "n_ubatch": 512, "n_threads": 2, "cpu_mask": "0x0", "cpu_strict": False, "poll": 50,
        "type_k": "f16", "type_v": "f16", "n_gpu_layers": 99, "n_cpu_moe": 0, "split_mode": "layer",
        "main_gpu": 0, "no_kv_offload": False, "flash_attn": -1, "devices": "auto", "tensor_split": "0.00",
        "tensor_buft_overrides": "none", "load_mode": "mmap", "lazy_mode": "off", "embeddings": False,
        "no_op_offload": 0, "no_host": False, "repack": True, "fit_target": 0, "fit_min_ctx": 0,
        "n_prompt": n_prompt, "n_gen": n_gen, "n_depth": 0, "test_time": "2025-03-01T10:00:00Z",
        "avg_ns": 1000, "stddev_ns": 10, "avg_ts": sum(ts) / len(ts), "stddev_ts": 0.5,
        "samples_ns": [int(1e9 * (n_prompt + n_gen) / t) for t in ts], "samples_ts": ts,
    }
    obj.update(overrides)
    return obj
