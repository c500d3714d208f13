import pytest

from edgevlm.errors import StoreError
from edgevlm.store import METRICS, RunRecord
from edgevlm.store.metrics import DECODE_TPS, HIGHER, LOWER, VIT_MS

from store_helpers import make_record


def test_metric_directions_follow_units():
    for m in METRICS.values():
        assert m.better == (HIGHER if m.unit == "tok/s" else LOWER), m.name


def test_round_trip_through_json_dict():
    rec = make_record(3, extra={"temp_before_c": 41.5}, throttled=True)
    back = RunRecord.from_dict(rec.to_dict(), "x.json")
    assert back == rec
    assert rec.to_dict()["samples"][DECODE_TPS]["unit"] == "tok/s"


@pytest.mark.parametrize("patch, field", [
    ({"samples": {"decode_tps": [1.0, "fast"]}}, "samples.decode_tps[1]"),
    ({"samples": {"decode_tps": [1.0, float("nan")]}}, "samples.decode_tps[1]"),
    ({"samples": {"warp_speed": [1.0]}}, "samples.warp_speed"),
    ({"samples": {"vit_ms": {"unit": "s", "values": [1.0]}}}, "samples.vit_ms.unit"),
    ({"threads": 0}, "threads"),
    ({"throttled": "no"}, "throttled"),
    ({"created": "yesterday"}, "created"),
    ({"source": "llama.cpp"}, "source"),
    ({"device_name": ""}, "device_name"),
    ({"colour": "red"}, "colour"),
])
def test_validation_names_the_field(patch, field):
    data = make_record().to_dict() | patch
    with pytest.raises(StoreError) as exc:
        RunRecord.from_dict(data, "runs/a.json[2]")
    assert "runs/a.json[2]" in str(exc.value) and field in str(exc.value)


def test_missing_required_field_and_empty_samples():
    data = make_record().to_dict()
    del data["model_name"]
    with pytest.raises(StoreError, match="'model_name'"):
        RunRecord.from_dict(data, "f.json")
    with pytest.raises(StoreError, match="samples"):
        RunRecord(device_name="d", model_name="m", samples={VIT_MS: []})
    assert RunRecord(device_name="d", model_name="m", samples={}, partial=True).partial  # partial may be empty
