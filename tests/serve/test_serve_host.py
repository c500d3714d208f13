"""`edgevlm serve --device host` through its Python API, tested with the official `openai` client: the answer is
edgevlm-run's, bad requests get OpenAI-style 400s and the server keeps serving, no memory growth over 200 image
requests, 8 concurrent clients are answered or told 429, a killed client frees the slot."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from edgevlm.bench.request import DeviceRequest
from edgevlm.serve.endpoint import ServeSettings, start
from edgevlm.device.forward import free_port
from tests.conftest import make_test_image
from tests.serve.client import QUESTION, ask, client, data_url, png_bytes, run_answer

pytestmark = pytest.mark.native


@pytest.fixture(scope="module")
def host(serve_model):
    with start(DeviceRequest("host", serve_model, threads=2), ServeSettings(port=free_port())) as endpoint:
        yield endpoint


def server_pid(endpoint) -> int:
    return int(Path(endpoint.pid_file).read_text())


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_answer_is_edgevlm_runs_sync_and_streaming(host, serve_model, test_image):
    """Greedy: the server's answer is edgevlm-run's, token for token (same runtime stages, same prompt). The
    text and the count of generated tokens are compared; identical token ids give identical text."""
    expected = run_answer(serve_model, test_image, 12)
    api, url = client(host.url), data_url(test_image.read_bytes())
    text, usage = ask(api, host.model, url, max_tokens=12)
    assert text == expected["text"]
    assert usage.completion_tokens == expected["gen_tokens"] and usage.prompt_tokens == expected["prompt_tokens"]
    streamed, _ = ask(api, host.model, url, max_tokens=12, stream=True)
    assert streamed == expected["text"]
    again, _ = ask(api, host.model, url, max_tokens=12)          # the image's embeddings now come from the cache
    assert again == expected["text"]


def test_models_health_and_metrics(host):
    api = client(host.url)
    assert [m.id for m in api.models.list().data] == [host.model]
    base = host.url.removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/health", timeout=10) as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        page = resp.read().decode()
    for name in ("requests", "queue", "ttft", "peak"):
        assert name in page, f"/metrics has no {name!r}: {page[:400]}"


def _tiny_png() -> bytes:
    return png_bytes(make_test_image(40, 30))


def _bad_requests() -> dict[str, tuple[dict | bytes, str]]:
    """name -> (request body, what the message must mention)."""
    png = _tiny_png()
    good_content = [{"type": "text", "text": "hi"}]
    image = lambda url: [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "hi"}]  # noqa
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" \
          b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    return {
        "malformed JSON": (b'{"model": "x", "messages": [', "json"),
        "no messages": ({"messages": []}, "messages"),
        "not PNG/JPEG": ({"messages": [{"role": "user", "content": image(data_url(gif, "image/gif"))}]}, "image"),
        "PNG bytes called JPEG are fine, GIF bytes called PNG are not":
            ({"messages": [{"role": "user", "content": image(data_url(gif, "image/png"))}]}, "image"),
        "truncated PNG": ({"messages": [{"role": "user", "content": image(data_url(png[:len(png) // 2]))}]}, "image"),
        "bad base64": ({"messages": [{"role": "user", "content": image("data:image/png;base64,@@not*base64@@")}]},
                       "base64"),
        # 64 KiB over edgevlm-serve's default --max-image-bytes (16 MiB); a body far beyond it is cut off by the
        # HTTP layer (413, connection closed) before any JSON is read
        "oversize image": ({"messages": [{"role": "user", "content": image(data_url(
            png + b"\0" * ((16 << 20) + (64 << 10) - len(png))))}]}, "limit"),
        "max_tokens beyond the context": ({"messages": [{"role": "user", "content": good_content}],
                                           "max_tokens": 10_000_000}, "max_tokens"),
        "unknown model": ({"model": "gpt-4o", "messages": [{"role": "user", "content": good_content}]}, "model"),
    }


def _post(base: str, body: dict | bytes) -> tuple[int, dict]:
    import json

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/chat/completions", data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.parametrize("case", list(_bad_requests()))
def test_bad_request_is_an_openai_400_and_the_next_one_succeeds(host, case):
    body, mentions = _bad_requests()[case]
    if isinstance(body, dict):
        body = {"model": host.model, **body}
    status, answer = _post(host.url, body)
    assert status == 400, answer
    error = answer.get("error", {})
    assert error.get("type") == "invalid_request_error" and mentions in error.get("message", "").lower(), answer
    text, _ = ask(client(host.url), host.model, data_url(_tiny_png()), max_tokens=2)
    assert text                                                   # still serving


def test_the_openai_client_raises_bad_request_for_a_400(host):
    import openai

    with pytest.raises(openai.BadRequestError) as info:
        ask(client(host.url), "no-such-model", data_url(_tiny_png()), max_tokens=2)
    assert info.value.status_code == 400


def _distinct_png(i: int) -> bytes:
    """A 640x480 PNG of noise unique to i (≈0.9 MB): a leak of one request body or decoded image per request
    would show as ≥0.9 MB per request."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(i).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return png_bytes(Image.fromarray(pixels, "RGB"))


@pytest.mark.slow
def test_200_sequential_image_requests_do_not_grow_memory(host):
    """RSS after 200 requests with 200 different images. The first 40 fill what is bounded by design (the LRU of
    image embeddings, malloc's arenas); the next 160 may add at most 16 MiB. A leak of one request body, decoded
    image or embedding per request would add ≥ 160 × 0.9 MB ≈ 144 MB; allocator fragmentation moves a few MB."""
    api, pid = client(host.url), server_pid(host)
    for i in range(200):
        text, _ = ask(api, host.model, data_url(_distinct_png(i)), max_tokens=1)
        assert text is not None
        if i == 39:
            settled = rss_kb(pid)
    growth_kb = rss_kb(pid) - settled
    assert growth_kb <= 16 * 1024, f"RSS grew {growth_kb} KiB over 160 requests"


def test_8_concurrent_clients_are_answered_or_told_429(host):
    """Each client gets its answer or a 429 with Retry-After, within the client's timeout (never hung)."""
    import openai

    outcomes: list[object] = [None] * 8
    url = data_url(_tiny_png())

    def one(i: int) -> None:
        try:
            text, _ = ask(client(host.url, timeout=240), host.model, url, max_tokens=16, stream=i % 2 == 0)
            outcomes[i] = ("ok", text)
        except openai.RateLimitError as exc:
            outcomes[i] = ("429", exc.response.headers.get("retry-after"))
        except Exception as exc:                                  # noqa: BLE001 — reported below
            outcomes[i] = ("error", repr(exc))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(o is not None for o in outcomes), f"hung clients: {outcomes}"
    assert all(kind in ("ok", "429") for kind, _ in outcomes), outcomes
    assert any(kind == "ok" for kind, _ in outcomes)
    assert all(value and value.isdigit() for kind, value in outcomes if kind == "429"), outcomes


KILLED_CLIENT = r"""
import sys
from tests.serve.client import client
api = client(sys.argv[1])
stream = api.chat.completions.create(model=sys.argv[2], messages=[{"role": "user", "content": "Tell a story."}],
                                     max_tokens=int(sys.argv[3]), temperature=0, stream=True,
                                     extra_body={"ignore_eos": True})   # the tiny model would end in 0.5 s
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print("streaming", flush=True)
        break
import time
time.sleep(600)
"""


def test_a_killed_client_frees_the_slot(host, tmp_path):
    """A client killed mid-stream (SIGKILL: no goodbye, the socket just closes) stops its generation: the next
    request is served, and the server's metrics show the killed request ended long before its max_tokens."""
    before = _metric(host, "edgevlm_requests_cancelled_total")
    script = tmp_path / "killed.py"
    script.write_text(KILLED_CLIENT)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, str(script), host.url, host.model, "800"], stdout=subprocess.PIPE,
                            text=True, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)})
    try:
        assert proc.stdout.readline().strip() == "streaming"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    text, _ = ask(client(host.url, timeout=120), host.model, data_url(_tiny_png()), max_tokens=2)
    assert text
    assert _metric(host, "edgevlm_requests_cancelled_total") == before + 1


def _metric(endpoint, name: str) -> float:
    base = endpoint.url.removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.split()[-1])
    raise AssertionError(f"/metrics has no {name}")
