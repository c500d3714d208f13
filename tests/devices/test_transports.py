"""The three transports against real endpoints: /bin/sh, the real adb client + fake phone, a real sshd.

Every transport must agree on the same contract: exit codes (including 128+signal), stdout/stderr apart,
env and cwd, file names with spaces/quotes/newlines, push skipped when the remote sha256 matches.
"""
from __future__ import annotations

import hashlib

import pytest

from edgevlm.device.local import LocalTransport

WEIRD = "we ird 'q' \"dq\" $x;`b`"


@pytest.fixture(params=["local", "adb", "ssh"])
def endpoint(request, tmp_path):
    """(transport, a writable remote folder) for each kind."""
    if request.param == "local":
        return LocalTransport(), str(tmp_path / "local-remote")
    if request.param == "adb":
        _device, transport = request.getfixturevalue("phone")
        return transport, "/data/local/tmp/edgevlm-test"
    _server, transport = request.getfixturevalue("jetson")
    return transport, str(tmp_path / "ssh-remote")


def test_exit_codes_streams_env_cwd(endpoint):
    transport, remote = endpoint
    transport.shell(f"mkdir -p '{remote}'", check=True)
    result = transport.shell('echo "out $GREETING"; echo err >&2; pwd; exit 7', env={"GREETING": "a b'c"},
                             cwd=remote)
    assert result.code == 7
    assert result.stdout.splitlines() == ["out a b'c", remote]
    assert result.stderr.strip() == "err"
    # output without a trailing newline must not swallow the exit marker
    assert transport.shell("printf abc").stdout == "abc"


def test_killed_by_signal_is_128_plus_n(endpoint):
    transport, _ = endpoint
    result = transport.shell("sleep 5 & kill -9 $!; wait $!")
    assert result.code == 137 and result.signal == 9
    assert "SIGKILL" in result.describe()


def test_push_pull_weird_names_and_hash_skip(endpoint, tmp_path):
    transport, remote = endpoint
    local = tmp_path / "payload.bin"
    local.write_bytes(bytes(range(256)) * 1000 + b"tail")
    target = f"{remote}/{WEIRD}/f {WEIRD}.bin"
    assert transport.push(local, target) is True
    assert transport.push(local, target) is False           # same sha256: nothing sent
    expected = hashlib.sha256(local.read_bytes()).hexdigest()
    assert transport.file_hashes([target, f"{remote}/absent"]) == {target: expected, f"{remote}/absent": None}
    back = transport.pull(target, tmp_path / "back.bin")
    assert back.read_bytes() == local.read_bytes()
    local.write_bytes(b"changed")
    assert transport.push(local, target) is True            # content changed: pushed again


def test_push_tree_keeps_exec_bits(endpoint, tmp_path):
    transport, remote = endpoint
    tree = tmp_path / "bundle"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "tool").write_text("#!/bin/sh\necho tool-ran \"$@\"\n")
    (tree / "bin" / "tool").chmod(0o755)
    (tree / "build-info.json").write_text("{}")
    stats = transport.push_tree(tree, f"{remote}/bundle")
    assert (stats.pushed, stats.skipped) == (2, 0)
    assert transport.push_tree(tree, f"{remote}/bundle").skipped == 2
    result = transport.shell("./bin/tool x", cwd=f"{remote}/bundle", check=True)
    assert result.stdout.strip() == "tool-ran x"
