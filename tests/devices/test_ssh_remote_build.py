"""The Jetson flow against a real sshd on 127.0.0.1 (a CPU-only stand-in for the Jetson): push the source once
per content hash, configure + build with CMake on the far side, run the result, collect its output.

The project is a small CMake project rather than llama.cpp (a CUDA build needs the Jetson); the code path —
remote_build.push_source / remote_cmake_build / remote_bundle — is exactly the one `edgevlm build --target
jetson-orin --device orin` runs.
"""
from __future__ import annotations

import json
import shutil

import pytest

from edgevlm.device.remote_build import CMakeJob, SourceTree, push_source, remote_bundle, remote_cmake_build

CMAKE = """cmake_minimum_required(VERSION 3.16)
project(probe C)
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
add_executable(probe main.c)
target_compile_definitions(probe PRIVATE GREETING="${PROBE_GREETING}" SRC_DIR="${PROBE_SRC}")
"""
MAIN = """#include <stdio.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argc > 1 ? argv[1] : "out.txt", "w");
    if (!f) return 3;
    fprintf(f, "%s from %s\\n", GREETING, SRC_DIR);
    fclose(f);
    printf("ok\\n");
    return 0;
}
"""


@pytest.fixture
def project(tmp_path):
    if shutil.which("cmake") is None or shutil.which("cc") is None:
        pytest.fail("cmake and a C compiler are needed")
    src = tmp_path / "project"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(CMAKE)
    (src / "main.c").write_text(MAIN)
    return src


def test_push_build_run_collect(jetson, project, tmp_path):
    _, transport = jetson
    root = str(tmp_path / "jetson-home" / "edgevlm")
    tree = SourceTree((("probe", project),))
    first_hash = tree.content_hash()
    build_dir = remote_cmake_build(transport, tree, root, CMakeJob(
        project="probe", build_name="build-test", defs={"PROBE_GREETING": "hello jetson", "PROBE_SRC": "{src}"},
        targets=("probe",), jobs=2))
    bundle = remote_bundle(transport, build_dir, f"{root}/bundle", ("probe",), {"target": "jetson-orin"})
    result = transport.shell("./probe 'result file.txt'", cwd=bundle, check=True)
    assert result.stdout.strip() == "ok"
    collected = transport.pull(f"{bundle}/result file.txt", tmp_path / "collected.txt").read_text()
    assert collected == f"hello jetson from {root}/src-{first_hash}\n"   # {src}: the pushed source root
    info = json.loads(transport.read_text(f"{bundle}/build-info.json"))
    assert info == {"target": "jetson-orin", "tools": ["probe"]}
    # same content: the source is not pushed again; changed content: a new hash, pushed
    assert push_source(transport, tree, root)[1] is False
    (project / "main.c").write_text(MAIN.replace("ok", "ok2"))
    src2, sent = push_source(transport, SourceTree((("probe", project),)), root)
    assert sent is True and src2 != f"{root}/src-{first_hash}"


def test_remote_build_failure_is_clear(jetson, project, tmp_path):
    _, transport = jetson
    (project / "main.c").write_text("int main(void) { return syntax error; }\n")
    from edgevlm.errors import DeviceError

    with pytest.raises(DeviceError, match="remote build failed"):
        remote_cmake_build(transport, SourceTree((("probe", project),)), str(tmp_path / "j"),
                           CMakeJob(project="probe", build_name="b", defs={"PROBE_GREETING": "x", "PROBE_SRC": "y"},
                                    targets=("probe",)))
