"""Item 5 for builds: a signal to `edgevlm build` ends cmake, ninja and the compilers, here and on the device.

Before: the local build ran cmake in a `with Popen(...)` whose exit WAITS for the process, so SIGTERM to edgevlm
let the whole build run on; on a Jetson `cmake --build` ran through a plain shell call, which the ssh client's
death does not end. The builds here are CMake projects whose one target sleeps for a duration no other process
uses, so a leftover is found by name.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from edgevlm.interrupt import Handled, Interrupted
from edgevlm.toolchain.cmake import _run_streaming
from tests.misuse.conftest import processes_mentioning, signal_and_check, unique_sleep, wait_for, wait_gone


def _slow_project(folder: Path) -> str:
    marker = unique_sleep()
    folder.mkdir(parents=True)
    (folder / "CMakeLists.txt").write_text(textwrap.dedent(f"""\
        cmake_minimum_required(VERSION 3.16)
        project(slow NONE)
        add_custom_target(slow ALL COMMAND sleep {marker})
        """))
    return marker


def test_sigterm_ends_a_local_build_and_its_children(tmp_path):
    marker = _slow_project(tmp_path / "src")
    subprocess.run(["cmake", "-S", str(tmp_path / "src"), "-B", str(tmp_path / "b"), "-G", "Ninja"],
                   check=True, capture_output=True)
    handled = Handled()
    timer = threading.Timer(0.1, lambda: wait_for(lambda: processes_mentioning(f"sleep {marker}"), seconds=60,
                                                  what="the build's sleep") or os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(Interrupted):
            _run_streaming(["cmake", "--build", str(tmp_path / "b")], dict(os.environ), lambda line: None, "build")
    finally:
        timer.cancel()
        handled.restore()
    assert wait_gone(marker) == []            # ninja and its sleep went with cmake


REMOTE = """
import sys
from edgevlm.device.remote_build import CMakeJob, SourceTree, remote_cmake_build
from edgevlm.device.ssh import SshTransport
from edgevlm.interrupt import Handled
from pathlib import Path

host, port, user, key, known, project, root = sys.argv[1:]
handled = Handled()
t = SshTransport(host, port=int(port), user=user, identity_file=key, known_hosts=known)
try:
    remote_cmake_build(t, SourceTree((("slow", Path(project)),)), root, CMakeJob("slow", "b", {}, ("slow",)))
except KeyboardInterrupt:
    sys.exit(128 + (handled.last or 2))
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_signal_ends_a_build_on_the_ssh_host(jetson, tmp_path, sig):
    server, _ = jetson
    marker = _slow_project(tmp_path / "src")
    proc = subprocess.Popen([sys.executable, "-c", REMOTE, server.host, str(server.port), server.user,
                             str(server.identity_file), str(server.known_hosts), str(tmp_path / "src"),
                             str(tmp_path / "jetson")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    signal_and_check(proc, marker, sig)       # cmake, ninja and the sleep ended on the "Jetson"
