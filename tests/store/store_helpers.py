"""Builders for store tests: real records and llama-bench objects as the pinned llama-bench writes them."""
from __future__ import annotations

from edgevlm.store import RunRecord


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
