"""edgevlm-serve, the real binary on a converted tiny model (f32 LLM and mmproj), spoken to over HTTP on
127.0.0.1 with the standard library (the `openai` client tests are tests/serve/).

Criteria: token identity with edgevlm-run on the same files (greedy; no tolerance: the same runtime stages,
each prompt chunk evaluated whole), OpenAI's response and stream shapes, one 400 per bad request with the server
still answering, 429 + Retry-After beyond the queue, a client gone freeing the slot before its answer would have
ended, SIGTERM ending the process with exit 0.
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

pytestmark = pytest.mark.native

QUESTION = "What is in the image?"
LONG = 800   # tokens: ~0.5 s of decoding on the tiny model here, long enough to overlap requests


def _files(folder):
    from edgevlm.artifact import find_model

    return find_model(folder)


class Served:
    def __init__(self, binary, folder, *extra: str):
        f = _files(folder)
        self.proc = subprocess.Popen([str(binary), "-m", str(f.llm), "--mmproj", str(f.mmproj), "-t", "2",
                                      "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()   # the one "listening" line, printed once the model is loaded
        match = re.fullmatch(r"edgevlm-serve listening on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.port = int(match.group(1))

    def request(self, method: str, path: str, body=None, raw: bytes | None = None, timeout: float = 60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        out = resp.status, dict(resp.getheaders()), resp.read().decode()
        conn.close()
        return out

    def chat(self, body):
        status, headers, text = self.request("POST", "/v1/chat/completions", body)
        return status, headers, json.loads(text) if text.startswith("{") else text

    def metric(self, name: str) -> float:
        text = self.request("GET", "/metrics")[2]
        return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def edgevlm_serve(native_tool):
    return native_tool("edgevlm-serve")


@pytest.fixture(scope="module")
def server(edgevlm_serve, converted):
    s = Served(edgevlm_serve, converted("tiny-v2"))
    yield s
    assert s.stop() == 0


def _image_message(image, question=QUESTION):
    url = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    return [{"role": "user", "content": [{"type": "text", "text": question},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


def _run_tokens(binary, folder, image, question, n, tmp_path):
    f = _files(folder)
    out = tmp_path / "run.json"
    cmd = [str(binary), "-m", str(f.llm), "-p", question, "-n", str(n), "-t", "2", "--no-stream", "--json", str(out)]
    if image is not None:
        cmd += ["--mmproj", str(f.mmproj), "--image", str(image)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())["tokens"]


def test_answers_are_edgevlm_runs_and_reuse_the_kv(server, edgevlm_run, converted, test_image, tmp_path):
    folder = converted("tiny-v2")
    want = _run_tokens(edgevlm_run, folder, test_image, QUESTION, 12, tmp_path)
    first = server.chat({"model": "mobilevlm", "messages": _image_message(test_image), "max_tokens": 12})[2]
    again = server.chat({"messages": _image_message(test_image), "max_tokens": 12})[2]
    assert first["edgevlm"]["tokens"] == want and again["edgevlm"]["tokens"] == want
    assert first["choices"][0]["message"]["content"] == again["choices"][0]["message"]["content"]
    # the same picture: its embeddings cached and the KV kept through its 144 rows (only the question is new)
    assert again["edgevlm"]["image_cached"] and again["edgevlm"]["prompt_tokens_reused"] >= 144 + 1
    follow = server.chat({"messages": _image_message(test_image, "Describe it."), "max_tokens": 12})[2]
    assert follow["edgevlm"]["tokens"] == _run_tokens(edgevlm_run, folder, test_image, "Describe it.", 12, tmp_path)
    # text only, after image requests left their rows in the context
    text = server.chat({"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 12})[2]
    assert text["edgevlm"]["tokens"] == _run_tokens(edgevlm_run, folder, None, "Tell me a story.", 12, tmp_path)
    assert text["usage"]["completion_tokens"] == len(text["edgevlm"]["tokens"])
    assert first["object"] == "chat.completion" and first["choices"][0]["finish_reason"] in ("stop", "length")


def test_stream_is_openai_sse(server, test_image):
    full = server.chat({"messages": _image_message(test_image), "max_tokens": 10})[2]
    status, headers, text = server.request("POST", "/v1/chat/completions",
                                           {"messages": _image_message(test_image), "max_tokens": 10, "stream": True,
                                            "stream_options": {"include_usage": True}})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == full["choices"][0]["message"]["content"]
    assert chunks[-2]["choices"][0]["finish_reason"] == full["choices"][0]["finish_reason"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == full["usage"]["completion_tokens"]


def _png_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_bad_requests_are_400_and_the_server_goes_on(server, test_image):
    png = test_image.read_bytes()
    image_msg = lambda url: [{"role": "user", "content": [{"type": "text", "text": "q"},  # noqa: E731
                                                          {"type": "image_url", "image_url": {"url": url}}]}]
    cases = {
        "malformed JSON": (b'{"messages": [', None),
        "no messages": ({"model": "mobilevlm"}, "messages"),
        "empty messages": ({"messages": []}, "messages"),
        "not PNG/JPEG": ({"messages": image_msg(_png_url(b"GIF89a" + png[6:]))}, "invalid_image"),
        "truncated PNG": ({"messages": image_msg(_png_url(png[: len(png) // 2]))}, "invalid_image"),
        "bad base64": ({"messages": image_msg("data:image/png;base64,@@not base64@@")}, "invalid_base64"),
        "gif media type": ({"messages": image_msg("data:image/gif;base64,R0lGODlh")}, "invalid_image_format"),
        "remote URL": ({"messages": image_msg("http://127.0.0.1:9/x.png")}, "invalid_image_url"),
        "max_tokens beyond the context": ({"messages": image_msg(_png_url(png)), "max_tokens": 100000},
                                          "context_length_exceeded"),
        "prompt + max_tokens beyond": ({"messages": image_msg(_png_url(png)), "max_tokens": 1000},
                                       "context_length_exceeded"),
        "prompt beyond the context (26,000 characters)": (
            {"messages": [{"role": "user", "content": ("what is in the picture? " * 1100)[:26000]}]},
            "context_length_exceeded"),
        "unknown model": ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, "model_not_found"),
        "two images": ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": _png_url(png)}},
            {"type": "image_url", "image_url": {"url": _png_url(png)}}]}]}, "too_many_images"),
    }
    for name, (body, code) in cases.items():
        raw = body if isinstance(body, bytes) else None
        status, _, text = server.request("POST", "/v1/chat/completions", None if raw else body, raw=raw)
        assert status == 400, (name, text)
        error = json.loads(text)["error"]
        assert error["type"] == "invalid_request_error" and error["message"], name
        assert code is None or code in (error["code"], error["param"]), (name, error)
    ok = server.chat({"messages": _image_message(test_image), "max_tokens": 4})
    assert ok[0] == 200 and ok[2]["usage"]["completion_tokens"] > 0
    assert server.metric("edgevlm_requests_bad_total") >= len(cases)


def test_models_health_metrics(server, test_image):
    status, _, text = server.request("GET", "/v1/models")
    assert status == 200 and json.loads(text)["data"][0]["id"] == "mobilevlm"
    assert json.loads(server.request("GET", "/health")[2]) == {"status": "ok"}
    server.chat({"messages": _image_message(test_image), "max_tokens": 4})
    metrics = server.request("GET", "/metrics")[2]
    for name in ("edgevlm_requests_total", "edgevlm_queue_depth", "edgevlm_peak_rss_bytes",
                 "edgevlm_request_ttft_ms{", "edgevlm_request_decode_tokens_per_second{"):
        assert name in metrics, name
    assert server.metric("edgevlm_peak_rss_bytes") > 0 and server.metric("edgevlm_queue_depth") == 0


def test_queue_full_is_429_and_nobody_hangs(edgevlm_serve, converted):
    s = Served(edgevlm_serve, converted("tiny-v2"), "--queue", "1")
    try:
        results: list[tuple[int, dict]] = []
        body = {"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": LONG}

        def one():
            status, headers, _ = s.request("POST", "/v1/chat/completions", body, timeout=120)
            results.append((status, headers))

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(results) == 6, "a client hung"
        statuses = sorted(code for code, _ in results)
        # one runs, one waits, the others arrive while both are taken (each answer takes ~0.5 s)
        assert set(statuses) == {200, 429} and statuses.count(200) >= 2, statuses
        assert all(int(h["Retry-After"]) >= 1 for code, h in results if code == 429)
        assert s.metric("edgevlm_requests_rejected_total") == statuses.count(429)
    finally:
        assert s.stop() == 0


def test_client_gone_frees_the_slot(edgevlm_serve, converted):
    s = Served(edgevlm_serve, converted("tiny-v2"), "--queue", "0")
    try:
        body = {"messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": LONG}
        t0 = time.perf_counter()
        assert s.chat(body)[0] == 200
        full_s = time.perf_counter() - t0   # a whole answer of LONG tokens
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", body=json.dumps({**body, "stream": True}))
        resp = conn.getresponse()
        assert resp.readline().startswith(b"data: ")
        conn.sock.shutdown(socket.SHUT_RDWR)   # the client goes away mid-stream (close() alone waits for resp)
        resp.close()
        conn.close()
        gone = time.perf_counter()
        while s.metric("edgevlm_requests_running") != 0:
            assert time.perf_counter() - gone < full_s, "the slot stayed taken as long as a whole answer"
            time.sleep(0.005)
        freed_s = time.perf_counter() - gone
        assert s.metric("edgevlm_requests_cancelled_total") == 1
        # the next request is served at once (queue 0: a taken slot would be a 429)
        assert s.chat({**body, "max_tokens": 4})[0] == 200
        assert freed_s < full_s / 2, (freed_s, full_s)
    finally:
        assert s.stop() == 0


def test_sigterm_mid_stream_exits_0(edgevlm_serve, converted):
    s = Served(edgevlm_serve, converted("tiny-v2"))
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.request("POST", "/v1/chat/completions",
                 body=json.dumps({"messages": [{"role": "user", "content": "Tell me a story."}],
                                  "max_tokens": LONG, "stream": True}))
    resp = conn.getresponse()
    assert resp.readline().startswith(b"data: ")
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0
    rest = resp.read().decode(errors="replace")
    assert rest.count('"content"') < LONG   # stopped after the current token, not at the limit
    conn.close()


def test_port_in_use_is_exit_2_one_line(edgevlm_serve, server, converted):
    f = _files(converted("tiny-v2"))
    proc = subprocess.run([str(edgevlm_serve), "-m", str(f.llm), "--port", str(server.port)], capture_output=True,
                          text=True, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "cannot listen" in lines[0], proc.stderr


def test_size_limits_and_unknown_paths_answer_in_openai_shape(edgevlm_serve, converted, test_image):
    limit = 2000
    assert test_image.stat().st_size > limit
    s = Served(edgevlm_serve, converted("tiny-v2"), "--max-image-bytes", str(limit))
    try:
        status, _, text = s.request("POST", "/v1/chat/completions", {"messages": _image_message(test_image)})
        assert status == 400 and json.loads(text)["error"]["code"] == "image_too_large"
        # a body far beyond any image the server takes: refused by the HTTP layer, still an OpenAI error
        status, _, text = s.request("POST", "/v1/chat/completions", raw=b"x" * (2 << 20))
        assert status == 413 and json.loads(text)["error"]["message"]
        status, _, text = s.request("GET", "/v2/nothing")
        assert status == 404 and "no route" in json.loads(text)["error"]["message"]
        assert s.chat({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})[0] == 200
    finally:
        assert s.stop() == 0
