"""MATRIX.toml → cells, and the refusals; the shipped nightly matrix and workflow are well-formed."""
import tomllib
from pathlib import Path

import pytest

from edgevlm.cli import main
from edgevlm.errors import EdgeVLMError
from edgevlm.lab.matrix import KEYS, load_matrix
from edgevlm.lab.node import LabDevice, NodeRegistry, resources
from tests.report.test_workflow import check

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path, body: str) -> Path:
    for name in ("m1", "m2"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "matrix.toml"
    path.write_text(body)
    return path


def test_cells_are_the_full_product(tmp_path):
    matrix = load_matrix(_write(tmp_path, """
models = ["m1", "m2"]
quants = ["Q4_K_M", "Q8_0"]
profiles = ["sd888", "orin"]
threads = [2, 4]
repeats = 3
[[workloads]]
name = "short"
prompt_tokens = 32
gen = 8
image = false
[[workloads]]
name = "paper"
"""))
    cells = matrix.cells()
    assert len(cells) == 2 * 2 * 2 * 2 * 2 * 3
    assert len({(c.model, c.quant, c.profile, c.threads, c.workload.name, c.repeat) for c in cells}) == len(cells)
    assert [c.index for c in cells] == list(range(len(cells)))
    assert cells[0].model == (tmp_path / "m1").resolve() and cells[0].workload.prompt_tokens == 32
    assert cells[-1].workload.prompt_tokens == 246 and cells[-1].workload.image is True  # the paper's default


@pytest.mark.parametrize("body, message", [
    ('models = ["m1"]\nprofiles = ["sd888"]\nrepeat = 3\n', "unknown key 'repeat'"),
    ('models = ["m1"]\n', "profiles is missing or empty"),
    ('models = ["nope"]\nprofiles = ["sd888"]\n', "model folder"),
    ('models = ["m1"]\nprofiles = ["sd888"]\nthreads = [-1]\n', "threads must be 0"),
    ('models = ["m1"]\nprofiles = ["sd888"]\nrepeats = 0\n', "repeats must be an integer"),
    ('models = ["m1"]\nprofiles = ["sd888"]\n[[workloads]]\ngen = 0\n', "gen ≥ 1"),
    ('models = ["m1"]\nprofiles = ["sd888"]\n[[workloads]]\ntokens = 3\n', "unknown workload key 'tokens'"),
    ('models = "m1"\nprofiles = ["sd888"]\n', "models must be a list"),
])
def test_bad_matrix_is_refused_with_the_key(tmp_path, body, message):
    with pytest.raises(EdgeVLMError, match=message):  # LabError, or InputNotFound for a missing folder
        load_matrix(_write(tmp_path, body))


def test_cli_bad_matrix_exits_2(tmp_path, capsys):
    path = _write(tmp_path, "models = [\n")
    with pytest.raises(SystemExit) as exc:
        main(["lab", "run", str(path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not TOML" in err and "Traceback" not in err


def test_no_lab_at_the_address_exits_2(tmp_path, capsys):
    path = _write(tmp_path, 'models = ["m1"]\nprofiles = ["sd888"]\n')
    with pytest.raises(SystemExit) as exc:   # nothing listens on port 9 of loopback
        main(["lab", "status", "--address", "127.0.0.1:9"])
    assert exc.value.code == 2 and "no lab at 127.0.0.1:9" in capsys.readouterr().err


def test_only_healthy_devices_become_resources():
    registry = NodeRegistry(5038, (LabDevice("A1", "sd888", "adb"), LabDevice("A2", "sd888", "adb"),
                                   LabDevice("B1", "sd888", "adb", healthy=False, reason="no asimddp"),
                                   LabDevice("nano", "orin", "ssh")))
    assert resources(registry) == {"device:A1": 1, "device:A2": 1, "device:nano": 1, "profile:sd888": 2,
                                   "profile:orin": 1, "profile:sd888/device:A1": 1,
                                   "profile:sd888/device:A2": 1, "profile:orin/device:nano": 1}


def test_shipped_nightly_matrix_and_workflow(tmp_path):
    data = tomllib.loads((REPO / "devices" / "lab" / "nightly.toml").read_text())
    assert set(data) <= KEYS and data["profiles"] == ["sd888", "orin"]
    proc = check(REPO / ".github" / "workflows" / "lab-nightly.yml", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    flow = (REPO / ".github" / "workflows" / "lab-nightly.yml").read_text()
    assert "edgevlm lab run devices/lab/nightly.toml" in flow


def test_checkpoint_folders_are_converted_once_per_quant(tmp_path, monkeypatch, synth_ckpt):
    from edgevlm.artifact import find_model
    from edgevlm.lab.models import model_folders

    monkeypatch.setenv("EDGEVLM_LAB_CACHE", str(tmp_path / "cache"))
    ckpt = synth_ckpt("tiny-v2", "bin")                 # a Hugging Face layout folder, as save_pretrained writes
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "tiny-Q8_0.gguf").write_bytes(b"already converted")
    path = tmp_path / "matrix.toml"
    path.write_text(f'models = ["m1", "{ckpt}"]\nquants = ["Q8_0"]\nprofiles = ["sd888"]\n')
    matrix = load_matrix(path)
    folders = model_folders(matrix)
    assert folders[((tmp_path / "m1").resolve(), "Q8_0")] == (tmp_path / "m1").resolve()   # used as it is
    converted = folders[(ckpt.resolve(), "Q8_0")]
    assert converted.is_relative_to(tmp_path / "cache") and find_model(converted, "Q8_0").mmproj is not None
    stamp = find_model(converted, "Q8_0").llm.stat().st_mtime_ns
    assert model_folders(matrix)[(ckpt.resolve(), "Q8_0")] == converted
    assert find_model(converted, "Q8_0").llm.stat().st_mtime_ns == stamp                  # not converted again
