"""The native LDP / LDPv2 projector: checkpoint-named weights in, (144, W) float32 embeddings out.

    proj = LdpProjector(weights, "v2", dtype="f16")   # validates names/shapes, repacks once ("q8_0": int8 GEMM)
    emb = proj.forward(features, threads=2)           # features float32 (576, 1024)
    emb = ldp_project(features, weights, "v2")        # one-shot form
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, Mapping

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import quantize

from edgevlm.errors import LdpInputError, TensorMappingError
from edgevlm.native._lib import check, load_library

V1_PREFIX = "model.mm_projector.model."
V2_PREFIX = "model.mm_projector."
PROJECTOR_PREFIX = "model.mm_projector."
_VERSIONS = {"v1": 1, "v2": 2}
_DTYPES = {"f32": (0, np.float32), "f16": (1, np.float16), "q8_0": (8, np.float32)}
# With q8_0 only these (Linear / pointwise) matrices are Q8_0 blocks; conv kernels and SE matrices are f32.
_Q8_0_FIELDS = ("fc1_w", "fc2_w", "pw_w")


class _Block(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in (
        "dw_w", "ln1_w", "ln1_b", "se_fc1_w", "se_fc1_b", "se_fc2_w", "se_fc2_b", "pw_w", "ln2_w", "ln2_b")]


class _Params(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("dtype", ctypes.c_int), ("n_embd", ctypes.c_int),
                ("width", ctypes.c_int), ("se_dim", ctypes.c_int)] + \
               [(name, ctypes.c_void_p) for name in ("fc1_w", "fc1_b", "fc2_w", "fc2_b", "peg_w", "peg_b")] + \
               [("blocks", _Block * 2)]


def _v1_block_names(i: int) -> dict[str, str]:
    p = f"{V1_PREFIX}mb_block.{i}.block."
    return {"dw_w": p + "0.0.weight", "ln1_w": p + "0.1.weight", "ln1_b": p + "0.1.bias",
            "se_fc1_w": p + "1.fc1.weight", "se_fc1_b": p + "1.fc1.bias",
            "se_fc2_w": p + "1.fc2.weight", "se_fc2_b": p + "1.fc2.bias",
            "pw_w": p + "2.0.weight", "ln2_w": p + "2.1.weight", "ln2_b": p + "2.1.bias"}


def _top_names(version: str) -> dict[str, str]:
    if version == "v1":
        m = f"{V1_PREFIX}mlp."
        return {"fc1_w": m + "1.weight", "fc1_b": m + "1.bias", "fc2_w": m + "3.weight", "fc2_b": m + "3.bias"}
    m = f"{V2_PREFIX}mlp.mlp."
    return {"fc1_w": m + "0.weight", "fc1_b": m + "0.bias", "fc2_w": m + "2.weight", "fc2_b": m + "2.bias",
            "peg_w": f"{V2_PREFIX}peg.peg.0.weight", "peg_b": f"{V2_PREFIX}peg.peg.0.bias"}


def ldp_tensor_names(version: str) -> list[str]:
    """The checkpoint tensor names a projector of this version has (24 for v1, 6 for v2)."""
    _check_version(version)
    names = list(_top_names(version).values())
    if version == "v1":
        names += [n for i in (1, 2) for n in _v1_block_names(i).values()]
    return names


def ldp_tensor_shapes(version: str, n_embd: int, width: int, se_dim: int = 0) -> dict[str, tuple[int, ...]]:
    """Checkpoint name -> checkpoint shape (convs 4-D, as PyTorch stores them)."""
    fields = dict(_top_names(version))
    if version == "v1":
        fields.update({f"{i}.{f}": n for i in (1, 2) for f, n in _v1_block_names(i).items()})
    return {n: _expected_shapes(f.split(".")[-1], width, n_embd, se_dim)[0] for f, n in fields.items()}


def _check_version(version: str) -> None:
    if version not in _VERSIONS:
        raise LdpInputError(f"unknown LDP version {version!r}; expected 'v1' (ldpnet) or 'v2' (ldpnetv2)")


def _expected_shapes(field: str, w: int, c: int, s: int) -> list[tuple[int, ...]]:
    """Checkpoint shape first, then the squeezed form an mmproj stores."""
    table = {"fc1_w": [(w, c)], "fc2_w": [(w, w)], "peg_w": [(w, 1, 3, 3), (w, 3, 3)],
             "dw_w": [(w, 1, 3, 3), (w, 3, 3)], "se_fc1_w": [(s, w, 1, 1), (s, w)], "se_fc1_b": [(s,)],
             "se_fc2_w": [(w, s, 1, 1), (w, s)], "pw_w": [(w, w, 1, 1), (w, w)]}
    return table.get(field, [(w,)])


def _as_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):  # torch tensor (possibly bf16, which numpy cannot hold): widen first
        import torch  # lazy: torch, heavy, optional

        return t.detach().to(torch.float32).cpu().numpy()
    return np.asarray(t)


def _gather(weights: Mapping[str, Any], version: str) -> dict[str, dict[str, np.ndarray]]:
    """Field -> array for the top level and each v1 block; missing or foreign projector tensors are errors."""
    wanted = set(ldp_tensor_names(version))
    missing = sorted(wanted - weights.keys())
    extra = sorted(k for k in weights if k.startswith(PROJECTOR_PREFIX) and k not in wanted)
    if missing or extra:
        raise TensorMappingError(
            f"LDP {version} weights: missing {missing[:4]}{'…' if len(missing) > 4 else ''}, "
            f"unexpected {extra[:4]}{'…' if len(extra) > 4 else ''}",
            hint="check the projector version (ldpnet = v1, ldpnetv2 = v2)")
    groups = {"top": {f: _as_numpy(weights[n]) for f, n in _top_names(version).items()}}
    if version == "v1":
        for i in (1, 2):
            groups[f"block{i}"] = {f: _as_numpy(weights[n]) for f, n in _v1_block_names(i).items()}
    return groups


def _validate_shapes(groups: dict[str, dict[str, np.ndarray]], version: str) -> tuple[int, int, int]:
    fc1 = groups["top"]["fc1_w"]
    if fc1.ndim != 2:
        raise TensorMappingError(f"{_top_names(version)['fc1_w']}: shape {tuple(fc1.shape)}, expected (W, C)")
    w, c = fc1.shape
    s = groups["block1"]["se_fc1_w"].shape[0] if version == "v1" else 0
    names = dict(_top_names(version))
    for i in (1, 2):
        names.update({f"block{i}.{f}": n for f, n in _v1_block_names(i).items()})
    for group, fields in groups.items():
        for field, arr in fields.items():
            allowed = _expected_shapes(field, w, c, s)
            if tuple(arr.shape) not in allowed:
                key = names[field if group == "top" else f"{group}.{field}"]
                raise TensorMappingError(f"{key}: shape {tuple(arr.shape)}, expected {allowed[0]} (W={w}, C={c})")
    return w, c, s


class LdpProjector:
    """A native projector with its weights copied and repacked once (reuse it across images)."""

    def __init__(self, weights: Mapping[str, Any], version: str, dtype: str = "f32"):
        _check_version(version)
        if dtype not in _DTYPES:
            raise LdpInputError(f"unknown weight dtype {dtype!r}; expected 'f32', 'f16' or 'q8_0'")
        self._lib = load_library()
        _declare(self._lib)
        groups = _gather(weights, version)
        self.width, self.n_embd, se_dim = _validate_shapes(groups, version)
        self.version, self.dtype = version, dtype
        code, np_dtype = _DTYPES[dtype]
        keep: list[np.ndarray] = []  # alive until create() has copied them

        def ptr(field: str, arr: np.ndarray) -> int:
            if dtype == "q8_0" and field in _Q8_0_FIELDS:
                keep.append(_q8_0_blocks(arr))
            else:
                keep.append(np.ascontiguousarray(arr, dtype=np.float32 if arr.ndim == 1 else np_dtype))
            return keep[-1].ctypes.data

        params = _Params(version=_VERSIONS[version], dtype=code, n_embd=self.n_embd, width=self.width, se_dim=se_dim)
        for field, arr in groups["top"].items():
            setattr(params, field, ptr(field, arr))
        for i in (1, 2) if version == "v1" else ():
            for field, arr in groups[f"block{i}"].items():
                setattr(params.blocks[i - 1], field, ptr(field, arr))
        self._handle = self._lib.edgevlm_ldp_create(ctypes.byref(params))
        if not self._handle:
            check(self._lib, -1, "edgevlm_ldp_create")

    def forward(self, features: Any, threads: int | None = None) -> np.ndarray:
        """features float32 (g*g, C) with g even (576 = 24x24) -> float32 ((g/2)^2, W)."""
        x = _as_numpy(features)
        if x.ndim != 2 or x.shape[1] != self.n_embd:
            raise LdpInputError(f"features must be (n_tokens, {self.n_embd}), got {tuple(x.shape)}")
        g = int(round(x.shape[0] ** 0.5))
        if g * g != x.shape[0] or g % 2:
            raise LdpInputError(f"n_tokens must be g*g with g even (576 = 24x24), got {x.shape[0]}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty(((g // 2) ** 2, self.width), dtype=np.float32)
        n = threads if threads is not None else len(os.sched_getaffinity(0))
        if n < 1:
            raise LdpInputError(f"threads must be >= 1, got {n}")
        status = self._lib.edgevlm_ldp_forward(self._handle, x.ctypes.data, x.shape[0], out.ctypes.data, n)
        check(self._lib, status, "edgevlm_ldp_forward")
        return out

    def close(self) -> None:
        if getattr(self, "_handle", None):
            self._lib.edgevlm_ldp_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()


def _q8_0_blocks(matrix: np.ndarray) -> np.ndarray:
    """An (out, in[, 1, 1]) matrix as ggml Q8_0 rows, quantized by gguf-py as a Q8_0 mmproj stores them."""
    rows = np.ascontiguousarray(matrix.reshape(matrix.shape[0], -1), dtype=np.float32)
    if rows.shape[0] % 16 or rows.shape[1] % 32:
        raise LdpInputError(f"q8_0 needs widths in multiples of 16 and inputs in multiples of 32, "
                            f"got a {rows.shape[0]} x {rows.shape[1]} matrix")
    return np.ascontiguousarray(quantize(rows, GGMLQuantizationType.Q8_0))


def ldp_project(features: Any, weights: Mapping[str, Any], version: str, threads: int | None = None,
                dtype: str = "f32") -> np.ndarray:
    """One-shot projection; build an LdpProjector instead when projecting many images."""
    proj = LdpProjector(weights, version, dtype)
    try:
        return proj.forward(features, threads)
    finally:
        proj.close()


def _declare(lib: ctypes.CDLL) -> None:
    lib.edgevlm_ldp_create.restype = ctypes.c_void_p
    lib.edgevlm_ldp_create.argtypes = [ctypes.POINTER(_Params)]
    lib.edgevlm_ldp_forward.restype = ctypes.c_int
    lib.edgevlm_ldp_forward.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.edgevlm_ldp_free.restype = None
    lib.edgevlm_ldp_free.argtypes = [ctypes.c_void_p]
