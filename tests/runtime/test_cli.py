"""`edgevlm run` and `edgevlm encode-image` through the real CLI (exit codes, outputs, no half-written files)."""
from __future__ import annotations

import numpy as np
import pytest

from edgevlm.cli import main

pytestmark = pytest.mark.native


def _cli(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return exc.value.code


def test_encode_image_writes_embeddings(converted, test_image, tmp_path, capsys):
    from edgevlm.native.vision import VisionEncoder
    from edgevlm.artifact import require_mmproj

    out = tmp_path / "emb.npy"
    assert _cli(["encode-image", str(converted("tiny-v2")), "--image", str(test_image), "--out", str(out)]) == 0
    emb = np.load(out)
    with VisionEncoder(require_mmproj(converted("tiny-v2")), 2) as enc:
        np.testing.assert_array_equal(emb, enc.encode(test_image))  # deterministic: same threads split
    assert emb.shape == (144, 64) and emb.dtype == np.float32


def test_encode_image_bad_image_exit_2_no_output(converted, tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_text("nope")
    out = tmp_path / "emb.npy"
    assert _cli(["encode-image", str(converted("tiny-v2")), "--image", str(bad), "--out", str(out)]) == 2
    assert "cannot read image" in " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert list(tmp_path.iterdir()) == [bad]


def test_run_streams_the_answer(converted, runtimes_free_reference_tokens, test_image, capsys):
    code = _cli(["run", str(converted("tiny-v1")), "--image", str(test_image), "-p", "What is in the image?",
                 "-n", "12", "--threads", "2"])
    assert code == 0
    assert capsys.readouterr().out.rstrip("\n") == runtimes_free_reference_tokens


@pytest.fixture
def runtimes_free_reference_tokens(converted, reference, test_image):
    """The reference's greedy answer text for the same question (decoded by the runtime's tokenizer)."""
    from edgevlm.runtime import Runtime

    rt = Runtime(converted("tiny-v1"), threads=2)
    try:
        want = reference("tiny-v1").generate("What is in the image?", test_image, max_new_tokens=12)
        return b"".join(rt.piece(t) for t in want).decode(errors="replace")
    finally:
        rt.close()


def test_run_missing_model_dir_exit_2(tmp_path, capsys):
    assert _cli(["run", str(tmp_path / "none"), "-p", "hi"]) == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())


def test_run_timings_print_load_included_ttft_and_memory_split(converted, test_image, capsys):
    import re

    code = _cli(["run", str(converted("tiny-v2")), "--image", str(test_image), "-p", "What is in the image?",
                 "-n", "4", "--threads", "2", "--timings"])
    assert code == 0
    err = " ".join(capsys.readouterr().err.split())
    m = re.search(r"time to first token (\d+) ms \(load (\d+) ms included\); peak RSS (\d+) MiB, peak anonymous "
                  r"(\d+) MiB, peak file-backed (\d+) MiB", err)
    assert m, err
    ttft, load, rss, anon, file = map(int, m.groups())
    assert ttft >= load and 0 < anon <= rss + 1 and 0 < file <= rss + 1
