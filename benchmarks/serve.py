"""Warm serving latency: edgevlm-serve vs stock llama-server on the same files, through the same `openai` client,
at the real MobileVLM_V2-1.7B shapes (Q4_K_S LLM, q8_0 mmproj), 2 threads.

    python -m benchmarks.serve [--rounds 6] [--threads 2] [--work build/bench-vision]

* Both servers run side by side for the whole benchmark (models loaded once): stock `llama-server` from the same
  pinned build (build/host/bin; built on demand with `edgevlm build`'s CMake tree, target llama-server) with
  `--mmproj` and MobileVLM's vicuna v1 conversation forced through its Jinja chat-template option (the image
  marker followed by a newline, where MobileVLM puts `<image>\\n`), and its other defaults as its users get them
  (prompt cache on, unified KV, host-memory prompt cache); edgevlm-serve with its defaults. Same threads.
* The same request to both, through the same openai.OpenAI client, streaming, greedy (temperature 0), 32
  generated tokens: one user message = [image as a PNG data: URL, question]. Prompt token counts (the servers'
  `usage`) are checked to agree.
* Per round, for each server in an order that alternates between rounds: a question about a NEW image (one
  neither server has seen: both must encode it; the model and the system prompt are warm), then a follow-up
  question about the SAME image (single turn, as a new question: what an app asks next about a photo). Time to
  first token = first streamed content byte; total = last one; from the request's start, as the client sees it.
  A first round is the warm-up (the first question after the load), not counted: the "2nd..Nth question".
* Peak RSS of each server process: the kernel's VmHWM from /proc/PID/status at the end (everything it ever held
  resident), plus RssAnon / RssFile at that moment.
Goals (issue 20): new-image TTFT >= 1.5x faster than llama-server; same-image follow-up TTFT >= 3x; edgevlm-serve
peak RSS <= 1.2 GB. Results: benchmarks/results/serve-host.{json,md}.
"""
from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, goals_line, table

from edgevlm.images import make_demo_image
from edgevlm.paths import host_bin_dir
from edgevlm.runtime.memory import read_status_kb
from benchmarks.vision import machine, save

PRESET = "mobilevlm-v2-1.7b"
MMPROJ_QUANT = "q8_0"
N_GEN = 32
QUESTION_NEW = "What is shown in this image? Describe it in detail."
QUESTION_SAME = "What colour is the biggest box in the picture?"
# MobileVLM's conversation (conv_templates["v1"]): llama-server joins [image, text] parts as "<MARKER>TEXT", its
# marker "<__media_RANDOM__>" (random per start); MobileVLM's prompt has "<image>\n" before the question, so the
# template puts the newline back after the marker's fixed end "__>" (prompt token counts then agree).
VICUNA_V1_JINJA = (
    "{%- for message in messages -%}{%- if message['role'] == 'user' -%}"
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: "
    "{{ message['content'] | replace('__>', '__>\\n') }} ASSISTANT:"
    "{%- endif -%}{%- endfor -%}")
SIDES = ("edgevlm-serve", "llama-server")
GOALS = {"ttft_new": 1.5, "ttft_same": 3.0, "peak_rss_gb": 1.2}
GB = 1e9
READY_S = 600


# ---------------------------------------------------------------- the model and the servers

def prepare(work: Path) -> Path:
    """The real-shape checkpoint converted once (Q4_K_S + q8_0 mmproj), in benchmarks/vision.py's cache layout."""
    from edgevlm.checkpoint.synth import synthesize
    from edgevlm.convert import convert

    ckpt, folder = work / "ckpt", work / f"conv_{MMPROJ_QUANT}"
    if not (ckpt / "config.json").is_file():
        synthesize(PRESET, ckpt, "safetensors", 0, False)
    if not (folder / "manifest.json").is_file():
        convert(ckpt, folder, quant="q4_k_s", mmproj_quant=MMPROJ_QUANT, progress=True)
    return folder


def ensure_llama_server() -> Path:
    exe = host_bin_dir() / "llama-server"
    if not exe.is_file():
        from edgevlm.toolchain.cmake import build

        build("host", cmake_target="llama-server")
    return exe


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process on 127.0.0.1:port, its log in a temp file, stopped with SIGTERM."""

    def __init__(self, name: str, argv: list[str]):
        self.name, self.port = name, free_port()
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([*argv, "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self) -> str:
        """Poll /health until 200 (llama-server answers 503 while loading); the served model id."""
        import openai
        import urllib.request

        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{self.name} not ready in {READY_S} s: {self.log_tail()}")
        return openai.OpenAI(base_url=self.url, api_key="none").models.list().data[0].id

    def memory(self) -> dict:
        st = read_status_kb(Path(f"/proc/{self.proc.pid}/status")) or {}
        return {"peak_rss_mb": st.get("VmHWM", 0) * 1024 / 1e6, "anon_mb": st.get("RssAnon", 0) * 1024 / 1e6,
                "file_mb": (st.get("RssFile", 0) + st.get("RssShmem", 0)) * 1024 / 1e6}

    def log_tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-1500:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.log.name)
        return self.proc.returncode


def start_servers(files, threads: int) -> dict[str, Server]:
    common = ["-m", str(files.llm), "--mmproj", str(files.mmproj), "-t", str(threads)]
    servers = {"llama-server": Server("llama-server", [str(ensure_llama_server()), *common, "--no-webui",
                                                       "--jinja", "--chat-template", VICUNA_V1_JINJA]),
               "edgevlm-serve": Server("edgevlm-serve", [str(host_bin_dir() / "edgevlm-serve"), *common])}
    return servers


# ---------------------------------------------------------------- one request, as the client sees it

def data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def ask(client, model: str, image_url: str, question: str) -> dict:
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image_url}},
                                             {"type": "text", "text": question}]}]
    t0 = time.perf_counter()
    stream = client.chat.completions.create(model=model, messages=messages, max_tokens=N_GEN, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    first = last = None
    text, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter() - t0
            first = first if first is not None else last
            text.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    if first is None:
        raise RuntimeError("no content streamed")
    return {"ttft_s": first, "total_s": last, "text": "".join(text),
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None}


# ---------------------------------------------------------------- rounds

def run_rounds(servers: dict[str, Server], models: dict[str, str], work: Path, rounds: int, say) -> dict:
    import openai

    clients = {s: openai.OpenAI(base_url=servers[s].url, api_key="none", timeout=900, max_retries=0)
               for s in SIDES}
    runs = {s: {"new": [], "same": []} for s in SIDES}
    for r in range(rounds + 1):                           # round 0: the warm-up (first question after the load)
        url = data_url(make_demo_image(work / "serve-images" / f"image-{r}.png", seed=1000 + r))
        order = SIDES if r % 2 == 0 else tuple(reversed(SIDES))
        for side in order:
            new = ask(clients[side], models[side], url, QUESTION_NEW)
            same = ask(clients[side], models[side], url, QUESTION_SAME)
            if r:
                runs[side]["new"].append(new)
                runs[side]["same"].append(same)
        if r:
            say(f"round {r}/{rounds}: " + "; ".join(
                f"{s} new {runs[s]['new'][-1]['ttft_s']:.2f} s same {runs[s]['same'][-1]['ttft_s']:.2f} s"
                for s in SIDES))
    return runs


def summarize(runs: dict, memory: dict) -> dict:
    ours, stock = runs["edgevlm-serve"], runs["llama-server"]
    out = {"medians": {s: {kind: {k: statistics.median(x[k] for x in runs[s][kind]) for k in ("ttft_s", "total_s")}
                           for kind in ("new", "same")} for s in SIDES},
           "ratios_stock_over_edgevlm": {
               f"{k}_{kind}": statistics.median(b[f"{k}_s"] / a[f"{k}_s"] for a, b in zip(ours[kind], stock[kind]))
               for kind in ("new", "same") for k in ("ttft", "total")},
           "memory": memory,
           "prompt_tokens": {s: {kind: sorted({x["prompt_tokens"] for x in runs[s][kind]}) for kind in ("new", "same")}
                             for s in SIDES},
           "completion_tokens": {s: sorted({x["completion_tokens"] for k in ("new", "same") for x in runs[s][k]})
                                 for s in SIDES}}
    r, rss = out["ratios_stock_over_edgevlm"], memory["edgevlm-serve"]["peak_rss_mb"] / 1000
    out["goals"] = {f"new-image TTFT >= {GOALS['ttft_new']}x llama-server": r["ttft_new"] >= GOALS["ttft_new"],
                    f"same-image follow-up TTFT >= {GOALS['ttft_same']}x": r["ttft_same"] >= GOALS["ttft_same"],
                    f"edgevlm-serve peak RSS <= {GOALS['peak_rss_gb']} GB": rss <= GOALS["peak_rss_gb"]}
    return out


def markdown(res: dict) -> str:
    m, s = res["machine"], res["summary"]
    lines = [f"# Warm serving: edgevlm-serve vs stock llama-server ({PRESET} shapes, Q4_K_S LLM, "
             f"{MMPROJ_QUANT} mmproj, {res['threads']} threads)", "",
             f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_bytes'] / GB:.0f} GB; llama.cpp "
             f"{m['llama_cpp_commit']}; load average at start {m['loadavg_start'][0]:.2f}, at end "
             f"{res['loadavg_end'][0]:.2f} (a shared machine). Both servers up side by side, the same openai "
             f"client, streaming, greedy, {N_GEN} tokens; {res['rounds']} interleaved rounds after a warm-up round; "
             f"medians; ratios are medians of per-round ratios. Prompt tokens (servers' usage): "
             f"{s['prompt_tokens']}. Random weights (speed does not depend on values).", ""]
    rows = []
    for kind, label in (("new", "new image"), ("same", "same image, follow-up")):
        for side in SIDES:
            x = s["medians"][side][kind]
            rows.append(f"| {label} | {side} | {x['ttft_s']:.2f} | {x['total_s']:.2f} |")
        r = s["ratios_stock_over_edgevlm"]
        rows.append(f"| {label} | **llama-server / edgevlm-serve** | **{r[f'ttft_{kind}']:.2f}x** | "
                    f"**{r[f'total_{kind}']:.2f}x** |")
    lines += table(["question", "side", "TTFT s", "total s"], rows)
    memory = [f"| {side} | {x['peak_rss_mb'] / 1000:.2f} | {x['anon_mb'] / 1000:.2f} / {x['file_mb'] / 1000:.2f} |"
              for side in SIDES for x in [s["memory"][side]]]
    lines += ["", *table(["server", "peak RSS GB (VmHWM)", "RSS anon / file GB at the end"], memory)]
    lines += ["", goals_line(s["goals"]), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=REPO / "build" / "bench-vision")
    args = ap.parse_args()
    from edgevlm.artifact import find_model

    args.work.mkdir(parents=True, exist_ok=True)
    files = find_model(prepare(args.work))
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    res = {"rounds": args.rounds, "threads": args.threads, "n_gen": N_GEN, "machine": machine(),
           "questions": {"new": QUESTION_NEW, "same": QUESTION_SAME}}
    servers = start_servers(files, args.threads)
    try:
        models = {side: server.wait_ready() for side, server in servers.items()}
        runs = run_rounds(servers, models, args.work, args.rounds, say)
        memory = {side: server.memory() for side, server in servers.items()}
    finally:
        codes = {side: server.stop() for side, server in servers.items()}
    res["exit_codes"] = codes
    res["summary"] = summarize(runs, memory)
    counts = {n for side in res["summary"]["prompt_tokens"].values() for kind in side.values() for n in kind}
    if len(counts) != 2:       # one count for the new-image question, one for the follow-up, same on both sides
        raise SystemExit(f"prompt token counts differ between the servers: {res['summary']['prompt_tokens']}")
    res["runs"] = runs
    save(res, "serve-host", markdown)


if __name__ == "__main__":
    main()
