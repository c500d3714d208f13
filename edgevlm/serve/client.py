"""A minimal OpenAI chat-completions client on the standard library, for `edgevlm bench --warm`: one streamed
question, timed as a client sees it (request sent → first content delta → last one).

The product does not depend on the `openai` package; the tests and benchmarks/serve.py use the real one against
the same server.
"""
from __future__ import annotations

import base64
import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path

from edgevlm.errors import DeviceError


@dataclass(frozen=True)
class Timed:
    ttft_ms: float
    total_ms: float
    text: str
    prompt_tokens: int
    completion_tokens: int


def image_url(path: Path) -> str:
    data = Path(path).read_bytes()
    mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def ask_streamed(port: int, model: str, question: str, image: str | None, *, max_tokens: int,
                 timeout: float = 1800.0, host: str = "127.0.0.1") -> Timed:
    """One greedy question streamed from http://host:port/v1/chat/completions."""
    content: list[dict] = [{"type": "image_url", "image_url": {"url": image}}] if image else []
    body = {"model": model, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": [*content, {"type": "text", "text": question}]}]}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise DeviceError(f"the server answered {resp.status}: {resp.read()[:300].decode(errors='replace')}")
        return _read_events(resp, started)
    except OSError as exc:
        raise DeviceError(f"the server on 127.0.0.1:{port} stopped answering: {exc}") from None
    finally:
        conn.close()


def _read_events(resp, started: float) -> Timed:
    first = last = None
    parts: list[str] = []
    usage: dict = {}
    for raw in resp:                                   # server-sent events: "data: {...}" lines
        line = raw.decode(errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        for choice in event.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                last = time.perf_counter()
                first = first or last
                parts.append(piece)
        usage = event.get("usage") or usage
    if first is None:
        raise DeviceError("the server streamed no content")
    return Timed((first - started) * 1e3, (last - started) * 1e3, "".join(parts),
                 int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
