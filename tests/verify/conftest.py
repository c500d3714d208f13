from __future__ import annotations

from tests.fixtures_native import native_bin, native_tool  # noqa: F401  (re-exported fixtures)
