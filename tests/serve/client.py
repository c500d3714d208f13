"""What the serve tests send: questions through the official `openai` client (the one app developers use),
images as data: URLs, and edgevlm-run's own answer to compare with."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

QUESTION = "What is in this image?"


def client(url: str, *, timeout: float = 300.0):
    import openai

    # max_retries=0: the client's automatic retries (it retries 429 and 5xx) would hide what the server answered
    return openai.OpenAI(base_url=url, api_key="not-needed", timeout=timeout, max_retries=0)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def messages(url: str, question: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": question}]}]


def ask(api, model: str, url: str, *, question: str = QUESTION, max_tokens: int = 8, stream: bool = False,
        **extra) -> tuple[str, object]:
    """(answer text, usage or None); streaming answers are the concatenated deltas."""
    response = api.chat.completions.create(model=model, messages=messages(url, question), max_tokens=max_tokens,
                                           temperature=0, stream=stream, **extra)
    if not stream:
        return response.choices[0].message.content, response.usage
    parts, usage, finish = [], None, None
    for chunk in response:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert finish is not None, "the stream ended without a finish_reason"
    return "".join(parts), usage


def run_answer(model_dir: Path, image: Path, n: int, question: str = QUESTION, threads: int = 2) -> dict:
    """edgevlm-run's record for the same question on this host (greedy): the answer the server must give."""
    from edgevlm.artifact import find_model
    from edgevlm.paths import host_bin_dir

    model = find_model(model_dir)
    out = image.parent / f"run-{image.stem}-{n}.json"
    proc = subprocess.run([str(host_bin_dir() / "edgevlm-run"), "-m", str(model.llm), "--mmproj", str(model.mmproj),
                           "--image", str(image), "-p", question, "-n", str(n), "-t", str(threads), "--json", str(out),
                           "--no-stream"], capture_output=True, text=True, errors="replace", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


SERVING = re.compile(r"serving (\S*) from (\S+) at (http://127\.0\.0\.1:(\d+)/v1)")


class ServeCli:
    """`edgevlm serve ...` as a user starts it, in its own process: the URL it prints, then a signal to stop it."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, timeout: float = 900):
        self.proc = subprocess.Popen([sys.executable, "-m", "edgevlm", "serve", *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=_pipe_lines, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        keep_err = lambda line: line is None or self.stderr.append(line)  # noqa: E731
        threading.Thread(target=_pipe_lines, args=(self.proc.stderr, keep_err), daemon=True).start()
        self.model = self.url = self.curl = None
        deadline = time.monotonic() + timeout
        while self.url is None and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            if match := SERVING.search(line):
                self.model, self.url = match.group(1), match.group(3)
                self.curl = self.lines.get(timeout=30)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> tuple[int, str]:
        """(exit code, stderr) after `sig`."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"edgevlm serve did not stop within {timeout} s after {sig}") from None
        time.sleep(0.2)                                   # the reader threads drain the pipes
        return self.proc.returncode, "".join(self.stderr)


def _pipe_lines(pipe, put) -> None:
    for line in pipe:
        put(line)
    put(None)


def server_processes(where: Path) -> list:
    """edgevlm-serve processes on this machine whose command line or working folder is under `where`: the model
    folder (host), the stand-in Jetson's home, the fake phone's root (others' tests on a shared machine run
    their own servers elsewhere)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = proc.info["cmdline"] or []
        if any(Path(part).name == "edgevlm-serve" for part in cmdline) and \
                (str(where) in " ".join(cmdline) or str(where) in (proc.info["cwd"] or "")):
            found.append(proc)
    return found
