"""`edgevlm serve` as a user runs it (its own process, the CLI), on the three kinds of device: this host, the fake
Snapdragon 888 behind the real adb client (the android-arm64 edgevlm-serve under qemu, `adb forward`) and a real
sshd standing in for a Jetson (`ssh -L`, devices/orin.toml as shipped but for its address). On each: the greedy
answer through the official openai client (sync and streaming) is edgevlm-run's on this host, a bad request gets
its 400 and the next good one an answer, a second `serve` of the same device is refused while the first runs, and
after SIGTERM / Ctrl-C (SIGINT) nothing is left: no server process, no forward, the device free again.

Phone and host agree token for token on these f16 files: f16 weights widen to f32 on both ISAs, the sums differ
only in accumulation order (~1e-6 relative), far below this model's greedy logit gaps (tests/devices e2e).
"""
from __future__ import annotations

import signal

import pytest

from edgevlm.paths import host_bin_dir
from edgevlm.device.forward import free_port, port_open
from tests.serve.client import ServeCli, ask, client, data_url, run_answer, server_processes

pytestmark = pytest.mark.native
N = 6                                        # generated tokens: qemu on 2 shared cores is slow


def _check_serving(cli: ServeCli, serve_model, image) -> None:
    assert cli.url, f"edgevlm serve printed no URL: {cli.stderr}"
    assert cli.curl.startswith(f"curl {cli.url}/chat/completions") and cli.model in cli.curl
    expected = run_answer(serve_model, image, N)
    api, url = client(cli.url, timeout=900), data_url(image.read_bytes())
    assert ask(api, cli.model, url, max_tokens=N)[0] == expected["text"]
    assert ask(api, cli.model, url, max_tokens=N, stream=True)[0] == expected["text"]
    import openai

    with pytest.raises(openai.BadRequestError):
        ask(api, cli.model, "data:image/png;base64,@@@", max_tokens=N)
    assert ask(api, cli.model, url, max_tokens=2)[0]


def _refused_while_running(argv: list[str], env: dict | None = None) -> None:
    second = ServeCli(argv, env, timeout=300)
    code, err = second.stop(timeout=300)
    assert second.url is None and code == 3 and "busy" in err, (code, err)


def _nothing_left(cli: ServeCli, sig: int, where) -> None:
    code, err = cli.stop(sig)
    assert code == 0, err
    assert not port_open(cli.port)
    assert server_processes(where) == [], [p.info for p in server_processes(where)]


def test_serve_on_this_host(serve_model, test_image):
    argv = [str(serve_model), "--device", "host", "--port", str(free_port()), "-t", "2"]
    cli = ServeCli(argv)
    try:
        _check_serving(cli, serve_model, test_image)
        _refused_while_running([str(serve_model), "--device", "host", "--port", str(free_port())])
    finally:
        _nothing_left(cli, signal.SIGTERM, serve_model)
    again = ServeCli(argv)                                  # the device is free again; Ctrl-C stops it as well
    assert again.url, again.stop()
    _nothing_left(again, signal.SIGINT, serve_model)


@pytest.fixture
def phone_env(phone, adb_server, android_bundle):
    device, transport = phone
    return device, transport.serial, {"ANDROID_ADB_SERVER_PORT": str(adb_server.port)}


@pytest.mark.slow
def test_serve_on_the_phone_over_adb_forward(phone_env, adb_server, serve_model, test_image):
    device, serial, env = phone_env
    cli = ServeCli([str(serve_model), "--device", "sd888", "--serial", serial, "--port", str(free_port())], env)
    try:
        _check_serving(cli, serve_model, test_image)
        assert f"tcp:{cli.port} tcp:" in adb_server("forward", "--list").stdout
        assert any("taskset f0 ./edgevlm-serve" in c for c in device.commands)       # the profile's big cores
        _refused_while_running([str(serve_model), "--device", "sd888", "--serial", serial,
                                "--port", str(free_port())], env)
    finally:
        _nothing_left(cli, signal.SIGTERM, device.root)
    assert adb_server("forward", "--list").stdout.strip() == ""


def test_serve_on_the_jetson_stand_in_over_ssh(orin, serve_model, test_image):
    argv = [str(serve_model), "--device", "orin", "--bundle", str(host_bin_dir()), "--port", str(free_port())]
    cli = ServeCli(argv)
    try:
        _check_serving(cli, serve_model, test_image)
        _refused_while_running([*argv[:-1], str(free_port())])
    finally:
        _nothing_left(cli, signal.SIGINT, orin)
