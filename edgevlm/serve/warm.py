"""`edgevlm bench --warm`: latency with the model kept loaded, through edgevlm serve on the device.

The server is started as `edgevlm serve` starts it (same lock, push, forward), asked spec.warmup questions that
are not measured (the first one after the load among them), then spec.repeat rounds of: a question about an image
the server has not seen (it must encode it: warm_ttft_ms), then a follow-up question about the same image
(warm_followup_ttft_ms). Each new image is the built-in demo picture drawn with another seed, so no cache can
answer for it. Times are the client's: request sent → first streamed content.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.runner import BenchSpec, QUESTION, TEXT_QUESTION
from edgevlm.bench.session import base_record
from edgevlm.images import make_demo_image
from edgevlm.serve.client import Timed, ask_streamed, image_url
from edgevlm.serve.endpoint import ServeSettings, start
from edgevlm.store.metrics import WARM_FOLLOWUP_TTFT_MS, WARM_TTFT_MS
from edgevlm.store.record import RunRecord

FOLLOW_UP = "What colour is the biggest box in the picture?"


def warm_bench(req: DeviceRequest, spec: BenchSpec, *, progress=None, warn=None) -> RunRecord:
    """One record of warm samples (raw, per round); the server is stopped whatever happens."""
    with start(req, ServeSettings(port=0), warn=warn, progress=progress) as endpoint, \
            tempfile.TemporaryDirectory(prefix="edgevlm-warm-") as tmp:
        with_image = not req.no_image and endpoint.ready.model.mmproj is not None
        port, model = endpoint.forward.local_port, endpoint.model
        task = progress.add_task(f"warm bench {endpoint.device}", total=spec.warmup + spec.repeat) if progress \
            else None
        rounds: list[dict] = []
        for index in range(spec.warmup + spec.repeat):
            url = image_url(make_demo_image(Path(tmp) / f"image-{index}.png", seed=1000 + index)) \
                if with_image else None
            new = ask_streamed(port, model, QUESTION if url else TEXT_QUESTION, url, max_tokens=spec.gen)
            same = ask_streamed(port, model, FOLLOW_UP, url, max_tokens=spec.gen) if url else None
            rounds.append({"warmup": index < spec.warmup, "new": _raw(new), "same": _raw(same) if same else None})
            if task is not None:
                progress.advance(task)
        record = base_record(endpoint.ready, spec)
    measured = [r for r in rounds if not r["warmup"]]
    record.samples = {WARM_TTFT_MS: [r["new"]["ttft_ms"] for r in measured]}
    if with_image:
        record.samples[WARM_FOLLOWUP_TTFT_MS] = [r["same"]["ttft_ms"] for r in measured]
    first = rounds[0]["new"]
    record.workload = f"warm:{'img+' if with_image else ''}p{first['prompt_tokens']}+g{spec.gen}"
    record.partial = False
    record.extra.update(runs=rounds, warm={"server": "edgevlm-serve", "follow_up": FOLLOW_UP,
                                           "images": "demo picture, a new seed per round"})
    return record


def _raw(timed: Timed) -> dict:
    return {"ttft_ms": timed.ttft_ms, "total_ms": timed.total_ms, "prompt_tokens": timed.prompt_tokens,
            "completion_tokens": timed.completion_tokens}
