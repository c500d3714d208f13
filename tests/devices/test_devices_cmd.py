"""`edgevlm devices`: the fake phone (through the real adb client), an ssh profile (real sshd) and the host,
each with its fingerprint."""
from __future__ import annotations

import json

from edgevlm.device.fingerprint import cores_summary


def test_devices_lists_phone_ssh_host(phone, jetson, adb_server, tmp_path, monkeypatch, capsys):
    from edgevlm.cli import main

    server, _ = jetson
    devices = tmp_path / "devices"
    devices.mkdir()
    (devices / "lab-orin.toml").write_text(f"""name = "lab-orin"
target = "jetson-orin"
transport = "ssh"
[ssh]
host = "{server.host}"
port = {server.port}
user = "{server.user}"
identity_file = "{server.identity_file}"
known_hosts = "{server.known_hosts}"
""")
    monkeypatch.setenv("EDGEVLM_DEVICES_DIR", str(devices))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    main(["devices", "--json"])
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    phone_row = rows["SM_G991U"]                      # adb devices -l spells the model with '_'
    assert phone_row["status"] == "ok" and phone_row["via"].startswith("adb 127.0.0.1:")
    assert (phone_row["model"], phone_row["soc"], phone_row["os"]) == ("SM-G991U", "SM8350", "Android 13 (SDK 33)")
    assert phone_row["cores"] == "8 cores: 4x1.80 + 3x2.42 + 1x2.84 GHz"
    assert (phone_row["governor"], phone_row["memory"]) == ("schedutil", "7.4 GiB")
    lab = rows["lab-orin"]
    assert lab["status"] == "ok" and lab["arch"] == "x86_64" and int(lab["cpu_count"]) >= 1
    assert rows["host"]["status"] == "ok" and rows["host"]["via"] == "local"
    assert rows["orin"]["status"] != "ok"             # the shipped profile's orin.local is not on this network


def test_cores_summary_groups_by_frequency():
    assert cores_summary("4", "0:1804800 1:1804800 2:2841600 3:1804800") == "4 cores: 3x1.80 + 1x2.84 GHz"
    assert cores_summary("2", "0:2400000 1:2400000") == "2 cores: 2x2.40 GHz"
    assert cores_summary("2", "") == "2 cores"
