"""`lab join`'s discovery on one host, without Ray: two fake phones behind one adb server, one of them without
the dot-product instructions the bundle needs; only the healthy one would be advertised, and the reason for the
other is the preflight's."""
from edgevlm.cli.lab import _show_devices
from edgevlm.lab.node import discover, resources
from tests.devices.conftest import AdbServer, require_fake_phones
from tests.fakes.android_sandbox import FEATURES
from tests.fakes.fake_adbd import FakeAdbDevice
from tests.fakes.standin_run import standin_bundle
from tests.lab.conftest import PROFILE


def test_a_phone_failing_preflight_is_not_advertised_and_join_says_why(tmp_path, monkeypatch, capsys):
    require_fake_phones()
    devices = tmp_path / "devices"
    devices.mkdir()
    (devices / "fakephone.toml").write_text(PROFILE.format(name="fakephone", token="node-test"))
    monkeypatch.setenv("EDGEVLM_DEVICES_DIR", str(devices))
    bundle = standin_bundle(tmp_path / "bundle").path   # built armv8.2-a+dotprod+fp16
    adb = AdbServer()
    adb("start-server")
    try:
        with FakeAdbDevice(tmp_path / "good") as good, FakeAdbDevice(tmp_path / "old") as old:
            old.set_cpus(features=FEATURES.replace(" asimddp", ""))   # a core without dotprod
            good_serial, old_serial = adb.connect(good.port), adb.connect(old.port)
            registry = discover(["fakephone"], adb.port, bundle)
    finally:
        adb("kill-server")
    by_serial = {d.serial: d for d in registry.devices}
    assert set(by_serial) == {good_serial, old_serial}   # the profile without a serial claims both phones
    assert by_serial[good_serial].healthy and not by_serial[old_serial].healthy
    assert "asimddp" in by_serial[old_serial].reason
    assert resources(registry) == {f"device:{good_serial}": 1, "profile:fakephone": 1,
                                   f"profile:fakephone/device:{good_serial}": 1}
    _show_devices(registry)
    out = capsys.readouterr().out
    assert old_serial in out and "asimddp" in out and "no" in out
