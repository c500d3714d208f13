"""`edgevlm doctor` judges each build by its own layout: a static android-arm64 build has tools and no shared
libraries (it used to be reported as "3/10 parts, missing libllama.so ..."); the host build needs its libraries.

The build-info.json written here carries the targets' own cmake_defs (edgevlm.toolchain.targets), as a real build
writes them.
"""
from __future__ import annotations

import json

from edgevlm import doctor
from edgevlm.toolchain.targets import ANDROID_ARM64, BUNDLE_TOOLS, HOST, HOST_TOOLS, SHARED_LIBS


def _tree(root, target, defs, files):
    bin_dir = root / target / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "build-info.json").write_text(json.dumps({"target": target, "cmake_defs": dict(defs)}))
    for name in files:
        (bin_dir / name).write_bytes(b"\x7fELF")


def test_static_android_build_is_complete_without_libraries(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path))
    _tree(tmp_path, "android-arm64", ANDROID_ARM64.cmake_defs, BUNDLE_TOOLS)
    _tree(tmp_path, "host", HOST.cmake_defs, [p for p in SHARED_LIBS + HOST_TOOLS if p != "libmtmd.so"])
    checks = {c.name: c for c in doctor.native_checks()}
    android = checks["build/android-arm64"]
    assert android.ok, android.detail
    n = len(BUNDLE_TOOLS)
    assert f"{n}/{n} parts of a static android-arm64 build" in android.detail and "libllama" not in android.detail
    host = checks["build/host"]
    assert not host.ok and host.detail.endswith("missing libmtmd.so") and "shared host build" in host.detail


def test_static_android_build_missing_a_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path))
    _tree(tmp_path, "android-arm64", ANDROID_ARM64.cmake_defs, [t for t in BUNDLE_TOOLS if t != "llama-mtmd-cli"])
    [check] = [c for c in doctor.native_checks() if c.name == "build/android-arm64"]
    assert not check.ok and check.detail.endswith("missing llama-mtmd-cli")
