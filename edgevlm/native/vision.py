"""The native vision encoder (libedgevlm's edgevlm_vision_*): an image in, (144, W) float32 embeddings out.

    enc = VisionEncoder("out/mmproj-…-F16.gguf", threads=2)
    emb = enc.encode("photo.jpg")          # np.ndarray (144, W)
    enc.last_timings                       # {"decode_ms": …, "vit_ms": …, "projector_ms": …, …}

Preprocessing, the ViT (CLS first, MobileVLM's layer selection) and the LDP projector all run in C++;
the stages are also exposed one by one (`preprocess_rgb`, `features`, `project`) for tests and benchmarks.

The projector is chosen at load by the environment variable EDGEVLM_PROJECTOR: ``kernel`` (the LDP kernel on
the CPU) or ``ggml`` (the same computation as ggml ops on the ViT's backend, the features never leaving it);
unset, ggml when the ViT runs on a GPU backend, else the kernel. ``enc.projector_impl`` says which one runs
("ldp-kernel" or "ggml").
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

import numpy as np

from edgevlm.errors import EdgeVLMError, ImageError, InputNotFound, MmprojError, SwitchError
from edgevlm.native._lib import check, load_library

ERR_IMAGE, ERR_MODEL = 16, 17  # enum edgevlm_vision_status (kernels/include/edgevlm_vision.h)
PROJECTORS = {1: "ldp", 2: "ldpv2"}
# The encoder's switches, read when it loads, and the values encoder.cpp accepts (by exact match; unset or
# empty: the default): variable -> (what it chooses, values).
ENV_SWITCHES = {"EDGEVLM_PROJECTOR": ("projector", ("kernel", "ggml")),
                "EDGEVLM_VIT_MATMUL": ("ViT matmul path", ("edgevlm", "ggml"))}


def _check_env_switches() -> None:
    """Fail before loading with a typed error; the library would refuse the value as well (its message
    would otherwise surface as an mmproj problem, which it is not)."""
    for name, (what, choices) in ENV_SWITCHES.items():
        value = os.environ.get(name, "")
        if value and value not in choices:
            raise SwitchError(f"{name}={value!r} is not a {what}",
                              hint=f"use {' or '.join(choices)}, or unset it for the default")


class _Timings(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in
                ("decode_ms", "preprocess_ms", "vit_ms", "projector_ms", "total_ms")]

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name, _ in self._fields_}


def _declare(lib: ctypes.CDLL) -> None:
    p, i, f = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_Timings)
    sigs = {
        "edgevlm_vision_load": (p, [ctypes.c_char_p, i]),
        "edgevlm_vision_encode_file": (i, [p, ctypes.c_char_p, p, f]),
        "edgevlm_vision_encode_rgb": (i, [p, p, i, i, p, f]),
        "edgevlm_vision_preprocess_rgb": (i, [p, p, i, i, p]),
        "edgevlm_vision_features": (i, [p, p, p, f]),
        "edgevlm_vision_project": (i, [p, p, p, f]),
        "edgevlm_vision_backend": (ctypes.c_char_p, [p]),
        "edgevlm_vision_weight_type": (ctypes.c_char_p, [p]),
        "edgevlm_vision_projector_impl": (ctypes.c_char_p, [p]),
        "edgevlm_vision_vit_matmul": (ctypes.c_char_p, [p]),
        "edgevlm_vision_free": (None, [p]),
    }
    for name in ("n_tokens", "n_embd", "n_patches", "width", "image_size", "n_layers", "projector"):
        sigs[f"edgevlm_vision_{name}"] = (i, [p])
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


def _default_threads() -> int:
    return len(os.sched_getaffinity(0))


class VisionEncoder:
    """An mmproj loaded once (weights on the ggml backend, projector repacked); encode many images."""

    def __init__(self, mmproj_path: str | os.PathLike, threads: int | None = None):
        path = Path(mmproj_path)
        if not path.is_file():
            raise InputNotFound(f"mmproj {path} does not exist", hint="pass the mmproj-*.gguf written by `edgevlm convert`")
        _check_env_switches()
        self._lib = load_library()
        _declare(self._lib)
        self.threads = threads if threads else _default_threads()
        self._handle = self._lib.edgevlm_vision_load(str(path).encode(), self.threads)
        if not self._handle:
            raise MmprojError(self._lib.edgevlm_last_error().decode(errors="replace"),
                              hint="convert the checkpoint again with `edgevlm convert`")
        self.path = path
        self.last_timings: dict[str, float] = {}
        q = lambda name: getattr(self._lib, f"edgevlm_vision_{name}")(self._handle)  # noqa: E731
        self.n_tokens, self.n_embd, self.n_patches = q("n_tokens"), q("n_embd"), q("n_patches")
        self.vision_width, self.image_size, self.n_layers = q("width"), q("image_size"), q("n_layers")
        self.projector = PROJECTORS[q("projector")]
        self.backend, self.weight_type = q("backend").decode(), q("weight_type").decode()
        self.projector_impl = q("projector_impl").decode()  # "ldp-kernel" or "ggml"
        self.vit_matmul = q("vit_matmul").decode()  # "int8-gemm/<isa>", "f32-gemm/<simd>" or "ggml"

    def encode(self, image_path: str | os.PathLike) -> np.ndarray:
        """Decode, preprocess, ViT, project: float32 (n_tokens, n_embd)."""
        path = Path(image_path)
        if not path.is_file():
            raise ImageError(f"image {path} does not exist", hint="pass the path of a PNG/JPEG file")
        out = np.empty((self.n_tokens, self.n_embd), np.float32)
        self._timed("edgevlm_vision_encode_file", str(path).encode(), out.ctypes.data, from_file=True)
        return out

    def encode_rgb(self, rgb: Any) -> np.ndarray:
        """rgb: uint8 (h, w, 3) array (e.g. np.asarray(PIL image)) -> float32 (n_tokens, n_embd)."""
        img = self._rgb(rgb)
        out = np.empty((self.n_tokens, self.n_embd), np.float32)
        self._timed("edgevlm_vision_encode_rgb", img.ctypes.data, img.shape[1], img.shape[0], out.ctypes.data)
        return out

    def preprocess_rgb(self, rgb: Any) -> np.ndarray:
        """The C++ preprocessing alone: float32 (3, S, S), comparable to the reference's pixel values."""
        img = self._rgb(rgb)
        out = np.empty((3, self.image_size, self.image_size), np.float32)
        status = self._lib.edgevlm_vision_preprocess_rgb(self._handle, img.ctypes.data, img.shape[1], img.shape[0],
                                                         out.ctypes.data)
        check(self._lib, status, "edgevlm_vision_preprocess_rgb")
        return out

    def features(self, pixels: Any) -> np.ndarray:
        """The ViT alone: pixels float32 (3, S, S) -> features float32 (n_patches, vision_width), CLS dropped."""
        x = np.ascontiguousarray(pixels, np.float32)
        if x.shape != (3, self.image_size, self.image_size):
            raise EdgeVLMError(f"pixels must be (3, {self.image_size}, {self.image_size}), got {x.shape}")
        out = np.empty((self.n_patches, self.vision_width), np.float32)
        self._timed("edgevlm_vision_features", x.ctypes.data, out.ctypes.data)
        return out

    def project(self, features: Any) -> np.ndarray:
        """The projector alone: features float32 (n_patches, vision_width) -> (n_tokens, n_embd)."""
        x = np.ascontiguousarray(features, np.float32)
        if x.shape != (self.n_patches, self.vision_width):
            raise EdgeVLMError(f"features must be ({self.n_patches}, {self.vision_width}), got {x.shape}")
        out = np.empty((self.n_tokens, self.n_embd), np.float32)
        self._timed("edgevlm_vision_project", x.ctypes.data, out.ctypes.data)
        return out

    def _timed(self, name: str, *args, from_file: bool = False) -> None:
        """Call a timed C entry point (handle, *args, timings*): status checked, timings kept.
        from_file: an undecodable image file is the user's input error (ImageError), not a native failure."""
        t = _Timings()
        status = getattr(self._lib, name)(self._handle, *args, ctypes.byref(t))
        if from_file and status == ERR_IMAGE:
            raise ImageError(self._lib.edgevlm_last_error().decode(errors="replace"), hint="pass a PNG or JPEG file")
        check(self._lib, status, name)
        self.last_timings = t.as_dict()

    @staticmethod
    def _rgb(rgb: Any) -> np.ndarray:
        img = np.ascontiguousarray(np.asarray(rgb), np.uint8)
        if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
            raise ImageError(f"rgb must be a uint8 (h, w, 3) array, got shape {img.shape}")
        return img

    def close(self) -> None:
        if getattr(self, "_handle", None):
            self._lib.edgevlm_vision_free(self._handle)
            self._handle = None

    def __enter__(self) -> "VisionEncoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
