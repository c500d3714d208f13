"""Stock llama.cpp in the same session, for a side-by-side: llama-bench (prompt/decode tok/s) and
llama-mtmd-cli (image encode ms, ViT + projector in the stock path).
"""
from __future__ import annotations

import os
import shlex

from edgevlm.device.deploy import Deployment
from edgevlm.bench.parse import llama_bench_tests, mtmd_encode_ms
from edgevlm.bench.runner import BenchSpec, pinned
from edgevlm.device.tracked import run_tracked
from edgevlm.device.profiles import DeviceProfile
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError
from edgevlm.store.llama_bench import parse_test
from edgevlm.store.metrics import IMAGE_ENCODE_MS
from edgevlm.store.record import RunRecord


def _threads(profile: DeviceProfile, spec: BenchSpec) -> list[str]:
    threads = spec.threads or profile.run.threads
    return ["-t", str(threads)] if threads else []


def llama_bench_argvs(dep: Deployment, profile: DeviceProfile, spec: BenchSpec, prompt_tokens: int) -> list[list[str]]:
    """The same workload as edgevlm's: prompt eval of the same length, and decode of the same number of tokens
    at the same KV depth (-d: the cache holds the prompt first, as it does when edgevlm-run decodes)."""
    common = ["./llama-bench", "-m", dep.llm, "-r", str(spec.repeat), "-o", "json", *_threads(profile, spec)]
    if profile.run.n_gpu_layers:
        common += ["-ngl", str(profile.run.n_gpu_layers)]
    return [common + ["-p", str(prompt_tokens), "-n", "0"],
            common + ["-p", "0", "-n", str(spec.gen), "-d", str(prompt_tokens)]]


def llama_bench(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec,
                prompt_tokens: int) -> list[RunRecord]:
    """Two llama-bench runs: pp{N} from an empty cache, tg{gen} at depth N."""
    records = []
    for args in llama_bench_argvs(dep, profile, spec, prompt_tokens):
        result = run_tracked(transport, pinned(profile, " ".join(map(shlex.quote, args))),
                             pid_file=f"{dep.scratch}/llama-bench.pid", name="llama-bench", cwd=dep.bundle,
                             env=dep.env, timeout=spec.timeout_s)
        if result.code != 0:
            raise DeviceError(f"llama-bench {result.describe()}: {result.stderr.strip()[-400:]}")
        for i, test in enumerate(llama_bench_tests(result.stdout, "llama-bench")):
            record = parse_test(test, f"llama-bench test {i}", device=profile.name, commit="")
            if record is not None:
                records.append(record)
    return records


def mtmd_encode(transport: Transport, profile: DeviceProfile, dep: Deployment, spec: BenchSpec) -> list[float]:
    """Image encode ms of the stock path on the same image and question, one value per repetition
    (llama-mtmd-cli, 1 generated token)."""
    if not (dep.mmproj and dep.image):
        return []
    args = ["./llama-mtmd-cli", "-m", dep.llm, "--mmproj", dep.mmproj, "--image", dep.image,
            "-p", spec.question(True), "-n", "1", "--temp", "0", *_threads(profile, spec)]
    if profile.run.n_gpu_layers:
        args += ["-ngl", str(profile.run.n_gpu_layers)]
    command = pinned(profile, " ".join(map(shlex.quote, args)))
    return [mtmd_encode_once(transport, command, cwd=dep.bundle, env=dep.env, timeout_s=spec.timeout_s,
                             pid_file=f"{dep.scratch}/llama-mtmd-cli.pid") for _ in range(spec.repeat)]


# The pinned llama-mtmd-cli logs through common's asynchronous logger, which sometimes (about 1 run in 3 on
# the host here) loses what is still queued when the process exits: exit 0, no "mtmd batch encoding done" line.
# Such a run measured nothing we can read, so it is repeated; a real failure (exit != 0) is not.
MTMD_LOST_LOG_ATTEMPTS = 8


def mtmd_encode_once(transport: Transport, command: str, *, cwd: str | None = None,
                     env: dict[str, str] | None = None, timeout_s: float | None = None,
                     pid_file: str | None = None) -> float:
    """One llama-mtmd-cli run's image encode ms, repeating runs whose log was lost; DeviceError on failure.
    Tracked like edgevlm-run (its pid recorded where it runs), so a timeout or a signal ends it there too."""
    pid_file = pid_file or f"/tmp/edgevlm-mtmd-{os.getpid()}.pid"
    for _ in range(MTMD_LOST_LOG_ATTEMPTS):
        result = run_tracked(transport, command, pid_file=pid_file, name="llama-mtmd-cli", cwd=cwd, env=env,
                             timeout=timeout_s)
        if result.code != 0:
            break
        encode = mtmd_encode_ms(result.stderr + result.stdout)
        if encode is not None:
            return encode
    raise DeviceError(f"llama-mtmd-cli {result.describe()}: {result.stderr.strip()[-400:]}")


def mtmd_record(base: RunRecord, values: list[float], image_tokens: int) -> RunRecord:
    return RunRecord(device_name=base.device_name, model_name=base.model_name, quant=base.quant,
                     samples={IMAGE_ENCODE_MS: values}, commit=base.commit, branch=base.branch, source="llama-bench",
                     device_fingerprint=base.device_fingerprint, build_flags=base.build_flags,
                     llama_cpp_commit=base.llama_cpp_commit, model_hashes=base.model_hashes, threads=base.threads,
                     workload=f"img{image_tokens}", extra={"tool": "llama-mtmd-cli"})
