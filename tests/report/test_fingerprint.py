"""The run fingerprint (edgevlm/fingerprint.py): what the bench writes, what llama-bench imports map to, the
probe on this host, and a report over real llama-bench output refusing a thread-count mix."""
import json
import subprocess

import pytest

from edgevlm import fingerprint as fp
from edgevlm.device.fingerprint import fingerprint as probe
from edgevlm.device.local import LocalTransport
from edgevlm.report import MixedRunsError, compare
from edgevlm.store import ResultsStore, RunRecord
from edgevlm.store.importing import import_files

BUILD_INFO = {"target": "android-arm64", "llama_cpp_commit": "0c1e57098", "compiler": "/usr/bin/aarch64-linux-gnu-g++",
              "cxx_flags": "-march=armv8.2-a+dotprod+fp16", "build_type": "Release",
              "cmake_defs": {"GGML_CPU_ARM_ARCH": "armv8.2-a+dotprod+fp16", "GGML_OPENMP": "ON"},
              "last_build_seconds": 412.0, "tools": ["edgevlm-run"]}


def bench_record(**kw):
    probe_lines = {"model": "SM-G991B", "soc": "SM8350", "cpu_model": "", "cpu_features": "fp asimd asimddp",
                   "cores_online": "0-7", "governor": "schedutil", "os": "Android 13 (SDK 33)", "kernel": "Linux 5.4"}
    body = dict(device_name="sd888", model_name="m", quant="Q4_K_M", samples={"decode_tps": [20.0]},
                device_fingerprint=fp.device_fields(probe_lines, "f0"), build_flags=fp.build_fields(BUILD_INFO),
                llama_cpp_commit="0c1e57098", model_hashes={"m.gguf": "sha256:ab"}, threads=4, workload="p246+g128")
    body.update(kw)
    return RunRecord(**body)


def test_bench_record_fingerprint_has_every_field():
    f = fp.of_record(bench_record())
    assert set(f) == set(fp.NAMES) and set(fp.MUST_AGREE) | set(fp.SHOWN) == set(fp.NAMES)
    assert (f["device_model"], f["soc"], f["cpu_mask"], f["cores_online"], f["threads"]) == (
        "SM-G991B", "SM8350", "f0", "0-7", "4")
    assert f["compiler"] == "/usr/bin/aarch64-linux-gnu-g++" and "dotprod" in f["build_flags"]
    assert "last_build_seconds" not in f["build_flags"]  # how long a build took does not define it
    assert json.loads(f["model_sha256"]) == {"m.gguf": "sha256:ab"}


def test_diff_splits_refusing_fields_from_shown_ones():
    a = fp.of_record(bench_record())
    b = fp.of_record(bench_record(llama_cpp_commit="b7000aa", threads=2))
    assert [d.field for d in fp.diff(a, b)] == ["threads", "llama_cpp_commit"]
    assert [d.field for d in fp.diff(a, b, fp.MUST_AGREE)] == ["threads"]
    assert fp.comparable_key(a) != fp.comparable_key(b)
    flags = fp.Difference("cpu_features", "fpu sse avx avx2 avx512f", "fpu sse avx avx2 amx_tile")
    assert flags.describe() == ("cpu_features: only baseline has 'avx512f', only candidate has 'amx_tile'")


def test_records_from_before_the_fingerprint_still_read():
    old = bench_record(build_flags={"GGML_NATIVE": "ON"}, device_fingerprint={"soc": "x"}, extra={"cpu_mask": "f0"})
    f = fp.of_record(old)
    assert f["build_flags"] == '{"cmake_defs":{"GGML_NATIVE":"ON"}}' and f["cpu_mask"] == "f0"
    assert f["cores_online"] == "" and f["compiler"] == ""


def test_probe_on_this_host_records_cores_and_features():
    raw = probe(LocalTransport())
    assert raw["cores_online"] and raw["cores_online"][0].isdigit()  # e.g. "0-1"
    assert len(raw["cpu_features"].split()) > 5  # /proc/cpuinfo flags (x86) or Features (arm64)
    f = fp.of_record(bench_record(device_fingerprint=fp.device_fields(raw, "")))
    assert f["cpu_model"] == raw["cpu_model"] and f["cpu_mask"] == ""


@pytest.mark.native
def test_real_llama_bench_output_maps_onto_the_fingerprint(native_tool, converted, tmp_path):
    """llama-bench's own JSON (this build's tool on a tiny converted model): cpu_info, gpu_info, backends,
    n_threads, build_commit, model_type land in the fingerprint; two thread counts are a refused mix."""
    llm = next(p for p in converted("tiny-v2").glob("*.gguf") if not p.name.startswith("mmproj"))
    files = []
    for threads in (1, 2):
        out = subprocess.run([str(native_tool("llama-bench")), "-m", str(llm), "-p", "16", "-n", "0", "-r", "3",
                              "-t", str(threads), "-o", "json"], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        files.append(tmp_path / f"lb-t{threads}.json")
        files[-1].write_text(out.stdout)
    raw = json.loads(files[0].read_text())[0]
    with ResultsStore(tmp_path / "s.sqlite") as store:
        ids, _ = import_files(store, files)
        runs = {r.record.threads: r for r in store.runs(ids=ids)}
        f = fp.of_record(runs[1].record)
        assert (f["cpu_model"], f["gpu"], f["llama_cpp_commit"], f["threads"], f["workload"]) == (
            raw["cpu_info"], raw["gpu_info"], raw["build_commit"], "1", "pp16")
        assert json.loads(f["build_flags"]) == {"backends": raw["backends"]}
        assert runs[1].record.quant == "F32" and raw["model_type"].endswith("all F32")
        with pytest.raises(MixedRunsError, match="threads: baseline '1', candidate '2'"):
            compare(store, [runs[1].id], [runs[2].id])
