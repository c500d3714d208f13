"""One image question end to end, as a user feels it: edgevlm-run vs stock llama-mtmd-cli on the same files,
at the real MobileVLM_V2-1.7B shapes (Q4_K_S LLM; f16 and q8_0 mmproj), 1 and 2 threads.

    python benchmarks/e2e.py [--rounds 3] [--threads 1,2] [--work build/bench-vision]

* Both tools answer with exactly 32 tokens (--ignore-eos) and get the same prompt token for token:
  MobileVLM's vicuna v1 conversation. edgevlm-run builds it itself; llama-mtmd-cli is forced onto it with a
  Jinja chat template (--jinja --chat-template) and the image marker placed where MobileVLM puts <image>.
  The prompt token counts of both are checked to agree. Greedy; stock keeps its other defaults (context 2048,
  warm-up), as its users get them.
* Timed from outside, identically for both: process start (Popen) -> first byte of the answer on stdout
  (time to first token, load included) -> last answer byte (total); decode tok/s from those times. Image
  encode ms from each tool's own log / record. Load: stock, the log time of "main: loading model" (both models
  and the context ready, before the image is read); edgevlm, TTFT - encode - prompt eval (its record), i.e.
  the loading that is not hidden behind the encode.
* Memory from outside, identically for both: the kernel's peak RSS of the child (wait4 ru_maxrss = VmHWM) and
  RssAnon / RssFile of /proc/<pid>/status sampled every 10 ms (peaks of each; phones reclaim clean file
  pages, not anonymous ones).
* Three sides: edgevlm-run as shipped (defaults), edgevlm-run with EDGEVLM_PROMPT_CACHE (the KV of the
  conversation's fixed start read from a file the warm-up run wrote: what every question after the first one
  gets) and stock. Rounds rotate their order after one warm-up run each; medians and per-round ratios. The
  goals are judged on edgevlm-run without the cache.
* Breakdown (2 threads): edgevlm-run with each of its end-to-end savings switched off in turn
  (EDGEVLM_RUN_OFF=<name>, kernels/runtime/plan.h) and with all of them off, interleaved: what each one gains.
Goals (issue 14, 2 threads): TTFT >= 1.6x stock with the q8_0 mmproj, >= 1.3x with f16; total for the 32-token
answer >= 1.2x with q8_0; peak RSS <= 1.5 GB with q8_0.
Results: benchmarks/results/e2e-host.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import REPO

from edgevlm.bench.parse import mtmd_encode_ms
from edgevlm.conversation import single_turn_template
from edgevlm.images import make_demo_image
from edgevlm.paths import host_bin_dir
from edgevlm.runtime.memory import read_status_kb
from benchmarks.vision import QUANTS, machine, prepare, save

QUESTION = "What is shown in this image? Describe it in detail."
N_GEN = 32
GB = 1e9
# MobileVLM's conversation (edgevlm.conversation) for one user turn; the image marker sits in the content.
VICUNA_V1_JINJA = single_turn_template()
SIDES = ("edgevlm", "edgevlm+cache", "stock")
SAVINGS = ("overlap", "free-vision", "drop-pages", "small-buffers")  # EDGEVLM_RUN_OFF names (plan.h)
GOALS = {"ttft_q8_0": 1.6, "ttft_f16": 1.3, "total_q8_0": 1.2, "peak_rss_q8_0_gb": 1.5}
STOCK_ATTEMPTS = 6  # llama-mtmd-cli's async logger loses its tail ~1 run in 3 (edgevlm/bench/stock.py)


# ---------------------------------------------------------------- one process, timed and sampled from outside

def _mb(kib: int) -> float:
    """KiB (what the kernel reports) -> MB (1e6 bytes, as the goals are stated)."""
    return kib * 1024 / 1e6


def measure(cmd: list[str], env: dict[str, str] | None = None, interval_s: float = 0.01) -> dict:
    """Run cmd; times of its stdout bytes, its peak RSS (kernel) and sampled anon/file peaks."""
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
    chunks: list[tuple[float, bytes]] = []
    peaks = {"anon_kb": 0, "file_kb": 0, "sum_kb": 0, "anon_at_sum_kb": 0, "file_at_sum_kb": 0}
    done = threading.Event()

    def read_stdout() -> None:
        fd = proc.stdout.fileno()
        while data := os.read(fd, 65536):
            chunks.append((time.perf_counter() - t0, data))

    def sample() -> None:
        while not done.is_set():
            st = read_status_kb(Path(f"/proc/{proc.pid}/status"))
            if st is None:
                break
            anon, file = st["RssAnon"], st["RssFile"] + st.get("RssShmem", 0)
            peaks["anon_kb"] = max(peaks["anon_kb"], anon)
            peaks["file_kb"] = max(peaks["file_kb"], file)
            if anon + file > peaks["sum_kb"]:
                peaks.update(sum_kb=anon + file, anon_at_sum_kb=anon, file_at_sum_kb=file)
            time.sleep(interval_s)

    reader, sampler = threading.Thread(target=read_stdout), threading.Thread(target=sample)
    reader.start()
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)   # reaps the child: its ru_maxrss is the kernel's peak RSS
    exit_s = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    reader.join()
    sampler.join()
    proc.stdout.close()
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    text_times = [t for t, b in chunks if b.strip()]
    return {"code": proc.returncode, "stdout": b"".join(b for _, b in chunks).decode(errors="replace"),
            "stderr": stderr, "ttft_s": text_times[0] if text_times else None,
            "last_token_s": text_times[-1] if text_times else None, "exit_s": exit_s,
            "peak_rss_mb": _mb(usage.ru_maxrss), "peak_anon_mb": _mb(peaks["anon_kb"]),
            "peak_file_mb": _mb(peaks["file_kb"]), "anon_at_peak_mb": _mb(peaks["anon_at_sum_kb"]),
            "file_at_peak_mb": _mb(peaks["file_at_sum_kb"])}


# ---------------------------------------------------------------- the two tools

def ours(files, image: Path, threads: int, off: str = "", cache: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rec_path = Path(tmp) / "run.json"
        cmd = [str(host_bin_dir() / "edgevlm-run"), "-m", str(files.llm), "--mmproj", str(files.mmproj),
               "--image", str(image), "-p", QUESTION, "-n", str(N_GEN), "--ignore-eos", "-t", str(threads),
               "--json", str(rec_path)]
        env = dict(os.environ, EDGEVLM_RUN_OFF=off)
        env.pop("EDGEVLM_PROMPT_CACHE", None)
        if cache:
            env["EDGEVLM_PROMPT_CACHE"] = str(cache)
        r = measure(cmd, env)
        if r["code"] != 0:
            raise RuntimeError(f"edgevlm-run failed ({r['code']}): {r['stderr'][-400:]}")
        rec = json.loads(rec_path.read_text())
    r.pop("stdout")
    r.pop("stderr")
    r.update(encode_ms=rec["image_encode_ms"], prompt_ms=rec["prompt_ms"], prompt_tokens=rec["prompt_tokens"],
             load_s=r["ttft_s"] - (rec["image_encode_ms"] + rec["prompt_ms"]) / 1000,
             gen_tokens=rec["gen_tokens"], record={k: v for k, v in rec.items() if k not in ("text", "build_flags")})
    return _decode_rate(r)


PERF_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
PERF_EVAL = re.compile(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs")
# common's log stamps each line min.s.ms.us from its start; this line comes once both models are loaded,
# the context made and warmed up, just before the image is read and encoded.
LOADED = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+) I main: loading model", re.M)


def stock(files, image: Path, threads: int) -> dict:
    cmd = [str(host_bin_dir() / "llama-mtmd-cli"), "-m", str(files.llm), "--mmproj", str(files.mmproj),
           "--image", str(image), "-p", "<__media__>\n" + QUESTION, "-n", str(N_GEN), "--ignore-eos",
           "-t", str(threads), "--temp", "0", "-lv", "4",  # -lv 4: its perf lines (prompt tokens, ms)
           "--jinja", "--chat-template", VICUNA_V1_JINJA]  # --jinja first: any template accepted
    for attempt in range(STOCK_ATTEMPTS):
        r = measure(cmd)
        if r["code"] != 0:
            raise RuntimeError(f"llama-mtmd-cli failed ({r['code']}): {r['stderr'][-400:]}")
        log = r["stderr"] + r["stdout"]
        encode, prompt, loaded = mtmd_encode_ms(log), PERF_PROMPT.search(log), LOADED.search(log)
        if encode is not None and prompt and loaded and r["ttft_s"] is not None:
            break
    else:
        raise RuntimeError(f"llama-mtmd-cli lost its log {STOCK_ATTEMPTS} times in a row")
    ev = PERF_EVAL.findall(log)
    mins, secs, ms, us = map(int, loaded.groups())
    # its perf "prompt eval time" also counts the image chunk's encode, so no prompt ms is taken from it
    r.update(encode_ms=encode, prompt_tokens=int(prompt.group(2)), load_s=mins * 60 + secs + ms / 1e3 + us / 1e6,
             gen_tokens=int(ev[-1][1]) + 1 if ev else None, attempts=attempt + 1)
    r.pop("stdout")
    r.pop("stderr")
    return _decode_rate(r)


def _decode_rate(r: dict) -> dict:
    """Generated tokens after the first per second, from the stdout times."""
    r["decode_tps"] = (N_GEN - 1) / (r["last_token_s"] - r["ttft_s"])
    return r


# ---------------------------------------------------------------- rounds

def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def compare(files_by_q: dict, image: Path, threads_list: list[int], rounds: int, work: Path, progress) -> dict:
    """Interleaved rounds of edgevlm-run, edgevlm-run with its prompt cache (warm: written by the warm-up run)
    and stock, the order rotating between rounds and cases."""
    cases = {(q, t): {side: [] for side in SIDES} for q in QUANTS for t in threads_list}
    caches = {q: work / f"prefix-{q}.kv" for q in QUANTS}
    run_side = {"edgevlm": lambda q, t: ours(files_by_q[q], image, t),
                "edgevlm+cache": lambda q, t: ours(files_by_q[q], image, t, cache=caches[q]),
                "stock": lambda q, t: stock(files_by_q[q], image, t)}
    for q in QUANTS:  # a cold cache for this run's files
        caches[q].unlink(missing_ok=True)
    for (q, t) in cases:  # warm-up: page cache, CPU frequency, the prompt cache written
        for side in SIDES:
            run_side[side](q, t)
    for r in range(rounds):
        for i, ((q, t), c) in enumerate(cases.items()):
            k = (r + i) % len(SIDES)
            for side in SIDES[k:] + SIDES[:k]:
                c[side].append(run_side[side](q, t))
            progress(f"round {r + 1}/{rounds} {q} t{t}: ttft " +
                     " / ".join(f"{side} {c[side][-1]['ttft_s']:.2f} s" for side in SIDES))
    out = {}
    for (q, t), c in cases.items():
        e, ec, s = c["edgevlm"], c["edgevlm+cache"], c["stock"]
        ratio = lambda k, ours_runs=e: statistics.median(b[k] / a[k] for a, b in zip(ours_runs, s))  # noqa: E731
        out[f"{q}/t{t}"] = {
            "mmproj": q, "threads": t,
            "medians": {side: {k: med(runs, k) for k in ("ttft_s", "last_token_s", "exit_s", "load_s", "decode_tps",
                                                          "encode_ms", "peak_rss_mb", "peak_anon_mb",
                                                          "peak_file_mb", "anon_at_peak_mb", "file_at_peak_mb")}
                        for side, runs in c.items()},
            "ratios_stock_over_edgevlm": {"ttft": ratio("ttft_s"), "total": ratio("last_token_s"),
                                          "peak_rss": ratio("peak_rss_mb")},
            "ratios_stock_over_edgevlm_cache": {"ttft": ratio("ttft_s", ec), "total": ratio("last_token_s", ec),
                                                "peak_rss": ratio("peak_rss_mb", ec)},
            "prompt_cache": sorted({x["record"]["prompt_cache"] for x in ec}),
            "cache_tokens_identical": all(x["record"]["tokens"] == e[0]["record"]["tokens"] for x in e + ec),
            "per_round_ttft_ratio": [b["ttft_s"] / a["ttft_s"] for a, b in zip(e, s)],
            "prompt_tokens": {side: sorted({x["prompt_tokens"] for x in runs}) for side, runs in c.items()},
            "gen_tokens": {side: sorted({x["gen_tokens"] for x in runs}) for side, runs in c.items()},
            "runs": c}
    return out


def breakdown(files_by_q: dict, image: Path, threads: int, rounds: int, progress) -> dict:
    """edgevlm-run with one saving off at a time, all off, and all on, interleaved per round."""
    variants = {"all on": "", **{f"{s} off": s for s in SAVINGS}, "all off": ",".join(SAVINGS)}
    out = {}
    for q in QUANTS:
        runs = {name: [] for name in variants}
        for r in range(rounds):
            names = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in names:
                runs[name].append(ours(files_by_q[q], image, threads, variants[name]))
            progress(f"breakdown {q} round {r + 1}/{rounds}")
        out[q] = {}
        for name, rs in runs.items():
            rec = [x["record"] for x in rs]
            out[q][name] = {k: med(rs, k) for k in ("ttft_s", "last_token_s", "peak_rss_mb", "peak_anon_mb",
                                                     "peak_file_mb", "anon_at_peak_mb", "file_at_peak_mb")}
            out[q][name].update({k: statistics.median(x.get(k, 0) for x in rec)
                                 for k in ("llm_load_ms", "vision_load_ms", "image_encode_ms", "context_ms",
                                           "prompt_ms", "decode_ms")})
            out[q][name]["tokens_identical_to_all_on"] = all(x["tokens"] == runs["all on"][0]["record"]["tokens"]
                                                              for x in rec)
            out[q][name]["runs"] = rs
    return out


def goals(cmp: dict) -> dict:
    q8, f16 = cmp.get("q8_0/t2"), cmp.get("f16/t2")
    if not (q8 and f16):
        return {}
    rss = q8["medians"]["edgevlm"]["peak_rss_mb"] / 1000
    return {
        f"TTFT >= {GOALS['ttft_q8_0']}x stock (q8_0)": q8["ratios_stock_over_edgevlm"]["ttft"] >= GOALS["ttft_q8_0"],
        f"TTFT >= {GOALS['ttft_f16']}x stock (f16)": f16["ratios_stock_over_edgevlm"]["ttft"] >= GOALS["ttft_f16"],
        f"total >= {GOALS['total_q8_0']}x stock (q8_0)":
            q8["ratios_stock_over_edgevlm"]["total"] >= GOALS["total_q8_0"],
        f"peak RSS <= {GOALS['peak_rss_q8_0_gb']} GB (q8_0)": rss <= GOALS["peak_rss_q8_0_gb"]}


# ---------------------------------------------------------------- report

def _mem(m: dict) -> str:
    return f"{m['peak_rss_mb'] / 1000:.2f} ({m['anon_at_peak_mb'] / 1000:.2f} / {m['file_at_peak_mb'] / 1000:.2f})"


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# One image question end to end: edgevlm-run vs stock llama-mtmd-cli (MobileVLM_V2-1.7B shapes, "
             "Q4_K_S LLM)", "",
             f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_bytes'] / GB:.0f} GB; edgevlm SIMD "
             f"`{m['native']['simd']}`; llama.cpp {m['llama_cpp_commit']}; load average at start "
             f"{m['loadavg_start'][0]:.2f}, at end {res['loadavg_end'][0]:.2f} (a shared machine). "
             f"{res['rounds']} interleaved rounds after a warm-up; medians; ratios are medians of per-round ratios. "
             f"Prompt: MobileVLM's vicuna v1 conversation, {res['prompt_tokens']} tokens in both tools (144 of "
             f"them the image); {N_GEN} generated tokens, greedy. Random weights (speed does not depend on values).",
             "", "edgevlm+cache: EDGEVLM_PROMPT_CACHE warm (the KV of BOS + system prompt + \"USER: \" read from "
             "the file the warm-up run wrote). Goals are judged on edgevlm-run without it.", "",
             "Times are seconds from process start. Memory: peak RSS GB (kernel, VmHWM) and, at the sampled "
             "peak, anonymous / file-backed GB.", "",
             "| mmproj | threads | side | TTFT s | total s | load s | encode ms | decode tok/s | "
             "peak RSS GB (anon / file) |", "|---|---|---|---|---|---|---|---|---|"]
    for c in res["compare"].values():
        for side in SIDES:
            x = c["medians"][side]
            lines.append(f"| {c['mmproj']} | {c['threads']} | {side} | {x['ttft_s']:.2f} | {x['last_token_s']:.2f} | "
                         f"{x['load_s']:.2f} | {x['encode_ms']:.0f} | {x['decode_tps']:.1f} | {_mem(x)} |")
        for label, key in (("stock / edgevlm", "ratios_stock_over_edgevlm"),
                           ("stock / edgevlm+cache", "ratios_stock_over_edgevlm_cache")):
            r = c[key]
            lines.append(f"| {c['mmproj']} | {c['threads']} | **{label}** | **{r['ttft']:.2f}x** | "
                         f"**{r['total']:.2f}x** | | | | {r['peak_rss']:.2f}x |")
    same = all(c["cache_tokens_identical"] for c in res["compare"].values())
    lines += ["", "Greedy tokens of edgevlm-run with and without the prompt cache: "
              f"{'identical' if same else 'DIFFER'} in every run."]
    lines += ["", "Goals (2 threads): " + "; ".join(f"{k}: {'met' if ok else 'MISSED'}"
                                                    for k, ok in res["goals"].items()), ""]
    if res.get("breakdown"):
        lines += [f"## Where the time and memory go (edgevlm-run, {res['breakdown_threads']} threads)", "",
                  "Each saving switched off on its own (EDGEVLM_RUN_OFF=name) and all of them off (the runtime "
                  "before issue 14); stage ms from edgevlm-run's own record (with the overlap on, the LLM load "
                  "runs beside the vision load and encode, so the stages do not add up to the TTFT).", "",
                  "| mmproj | variant | TTFT s | total s | LLM load ms | vision load ms | encode ms | context ms | "
                  "prompt ms | peak RSS GB (anon / file) | tokens = all on |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for q, variants in res["breakdown"].items():
            for name, x in variants.items():
                same = "yes" if x["tokens_identical_to_all_on"] else "NO"
                lines.append(f"| {q} | {name} | {x['ttft_s']:.2f} | {x['last_token_s']:.2f} | {x['llm_load_ms']:.0f} | "
                             f"{x['vision_load_ms']:.0f} | {x['image_encode_ms']:.0f} | {x['context_ms']:.0f} | "
                             f"{x['prompt_ms']:.0f} | {_mem(x)} | {same} |")
        lines += ["", "Gain of each saving = its \"off\" row minus \"all on\" (noise on this shared machine is "
                  "±10% between processes)."]
        for q, variants in res["breakdown"].items():
            base = variants["all on"]
            parts = [f"{s}: TTFT {variants[s + ' off']['ttft_s'] - base['ttft_s']:+.2f} s, peak "
                     f"{(variants[s + ' off']['peak_rss_mb'] - base['peak_rss_mb']) / 1000:+.2f} GB, anon "
                     f"{(variants[s + ' off']['anon_at_peak_mb'] - base['anon_at_peak_mb']) / 1000:+.2f} GB"
                     for s in SAVINGS]
            lines.append(f"- {q}: " + "; ".join(parts))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--breakdown-rounds", type=int, default=3, help="0 skips the breakdown")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "bench-vision")
    args = ap.parse_args()
    from edgevlm.artifact import find_model

    args.work.mkdir(parents=True, exist_ok=True)
    dirs = prepare(args.work)
    files_by_q = {q: find_model(dirs[q]) for q in QUANTS}
    image = make_demo_image(args.work / "image.png")
    threads = [int(t) for t in args.threads.split(",")]
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    res = {"rounds": args.rounds, "question": QUESTION, "n_gen": N_GEN, "machine": machine()}
    res["compare"] = compare(files_by_q, image, threads, args.rounds, args.work, say)
    counts = {n for c in res["compare"].values() for side in c["prompt_tokens"].values() for n in side}
    if len(counts) != 1:
        raise SystemExit(f"prompt token counts differ between the tools: {counts}")
    res["prompt_tokens"] = counts.pop()
    res["goals"] = goals(res["compare"])
    if args.breakdown_rounds:
        res["breakdown_threads"] = max(threads)
        res["breakdown"] = breakdown(files_by_q, image, max(threads), args.breakdown_rounds, say)
    save(res, "e2e-host", markdown)


if __name__ == "__main__":
    main()
