"""edgevlm's native kernels through their C ABI (libedgevlm, built by `make native`).

Nothing here loads the library at import time: the first call does, and raises
:class:`edgevlm.errors.NativeNotBuilt` if the host build is missing.
"""
from __future__ import annotations

from edgevlm.errors import LdpInputError, NativeCallFailed
from edgevlm.native._lib import library_path, native_info
from edgevlm.native.ldp import LdpProjector, ldp_project, ldp_tensor_names, ldp_tensor_shapes

__all__ = [
    "LdpInputError",
    "LdpProjector",
    "NativeCallFailed",
    "ldp_project",
    "ldp_tensor_names",
    "ldp_tensor_shapes",
    "library_path",
    "native_info",
]
