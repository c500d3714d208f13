"""The runtime's stages through libedgevlm's C ABI (edgevlm_session_*, kernels/include/edgevlm_session.h):
load, encode an image, prefill, generate (one decode step per token, each handed to a callback), free — the
same C++ code as edgevlm-run and edgevlm-serve, so there is one generation loop in the project.

    s = NativeSession("llm.gguf", "mmproj.gguf", threads=2)
    emb = s.encode_image("photo.png")                 # (144, n_embd) float32
    n_prompt = s.prefill("What is shown?", emb, max_tokens=64)
    tokens = s.generate(max_tokens=64, on_token=lambda token, piece: True)
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgevlm.errors import ImageError, LlamaError, ModelMismatch
from edgevlm.native._lib import check, load_library
from edgevlm.native.vision import _Timings

ERR_IMAGE = 16  # enum edgevlm_vision_status


class _SessionParams(ctypes.Structure):
    _fields_ = [("model", ctypes.c_char_p), ("mmproj", ctypes.c_char_p), ("threads", ctypes.c_int32),
                ("n_gpu_layers", ctypes.c_int32), ("verbose", ctypes.c_int32)]


class _GenerateParams(ctypes.Structure):
    _fields_ = [("max_tokens", ctypes.c_int32), ("temp", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float), ("seed", ctypes.c_uint32), ("ignore_eos", ctypes.c_int32)]


_TOKEN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int32, ctypes.POINTER(ctypes.c_char), ctypes.c_int32,
                             ctypes.c_void_p)


def _declare(lib: ctypes.CDLL) -> None:
    p, i32 = ctypes.c_void_p, ctypes.c_int32
    sigs = {
        "edgevlm_session_default_params": (_SessionParams, []),
        "edgevlm_generate_default_params": (_GenerateParams, []),
        "edgevlm_session_load": (p, [ctypes.POINTER(_SessionParams)]),
        "edgevlm_session_n_embd": (ctypes.c_int, [p]),
        "edgevlm_session_n_image_tokens": (ctypes.c_int, [p]),
        "edgevlm_session_encode_image": (ctypes.c_int, [p, ctypes.c_char_p, p, ctypes.POINTER(_Timings)]),
        "edgevlm_session_prefill": (ctypes.c_int, [p, ctypes.c_char_p, p, i32, ctypes.POINTER(i32)]),
        "edgevlm_session_generate": (ctypes.c_int, [p, ctypes.POINTER(_GenerateParams), _TOKEN_FN, p,
                                                    ctypes.POINTER(i32)]),
        "edgevlm_session_token_piece": (ctypes.c_int, [p, i32, ctypes.c_char_p, i32]),
        "edgevlm_session_info": (ctypes.c_char_p, [p, ctypes.c_char_p]),
        "edgevlm_session_free": (None, [p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


@dataclass(frozen=True)
class SamplerDefaults:
    """edgevlm-run's defaults (kernels/runtime/options.def, their one home), as the library reports them."""
    max_tokens: int
    temperature: float
    top_k: int
    top_p: float
    seed: int


def sampler_defaults() -> SamplerDefaults:
    lib = load_library()
    _declare(lib)
    d = lib.edgevlm_generate_default_params()
    return SamplerDefaults(d.max_tokens, round(d.temp, 6), d.top_k, round(d.top_p, 6), d.seed)


class NativeSession:
    """One loaded LLM (+ vision encoder); questions answered one at a time."""

    def __init__(self, llm: str | os.PathLike, mmproj: str | os.PathLike | None, threads: int,
                 n_gpu_layers: int = 0):
        self._lib = lib = load_library()
        _declare(lib)
        params = lib.edgevlm_session_default_params()
        params.model = str(llm).encode()
        params.mmproj = str(mmproj).encode() if mmproj else None
        params.threads, params.n_gpu_layers = threads, n_gpu_layers
        self._handle = lib.edgevlm_session_load(ctypes.byref(params))
        if not self._handle:
            message = lib.edgevlm_last_error().decode(errors="replace")
            if "not a pair" in message:
                raise ModelMismatch(message, hint="use the mmproj written together with this LLM by `edgevlm convert`")
            raise LlamaError(message)
        self.n_embd = lib.edgevlm_session_n_embd(self._handle)
        self.n_image_tokens = lib.edgevlm_session_n_image_tokens(self._handle)
        self.last_image_timings: dict[str, float] = {}

    def info(self, name: str) -> str:
        value = self._lib.edgevlm_session_info(self._handle, name.encode())
        if value is None:
            raise KeyError(name)
        return value.decode(errors="replace")

    def encode_image(self, path: str | os.PathLike) -> np.ndarray:
        if not Path(path).is_file():
            raise ImageError(f"image {path} does not exist", hint="pass the path of a PNG/JPEG file")
        out = np.empty((self.n_image_tokens, self.n_embd), np.float32)
        t = _Timings()
        status = self._lib.edgevlm_session_encode_image(self._handle, str(path).encode(), out.ctypes.data,
                                                        ctypes.byref(t))
        if status != 0 and "cannot read image" in self._lib.edgevlm_last_error().decode(errors="replace"):
            raise ImageError(self._lib.edgevlm_last_error().decode(errors="replace"), hint="pass a PNG or JPEG file")
        check(self._lib, status, "edgevlm_session_encode_image")
        self.last_image_timings = t.as_dict()
        return out

    def prefill(self, question: str, image: np.ndarray | None, max_tokens: int) -> int:
        """Evaluates the prompt (about `image`'s embeddings if given); returns its length in tokens."""
        emb = None if image is None else np.ascontiguousarray(image, np.float32)
        if emb is not None and emb.shape != (self.n_image_tokens, self.n_embd):
            raise LlamaError(f"image embeddings must be ({self.n_image_tokens}, {self.n_embd}), got {emb.shape}")
        n = ctypes.c_int32(0)
        status = self._lib.edgevlm_session_prefill(self._handle, question.encode(),
                                                   None if emb is None else emb.ctypes.data, max_tokens,
                                                   ctypes.byref(n))
        self._check(status, "prefill")
        return n.value

    def generate(self, on_token: Callable[[int, bytes], bool], max_tokens: int, temperature: float, top_k: int,
                 top_p: float, seed: int) -> int:
        """Decodes after prefill(); on_token(token, piece bytes) -> False stops. Returns the tokens generated."""
        params = _GenerateParams(max_tokens, temperature, top_k, top_p, seed, 0)
        failure: list[BaseException] = []

        def call(token: int, piece, length: int, _user) -> int:
            try:
                return 1 if on_token(token, ctypes.string_at(piece, length)) else 0
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the C loop returned
                failure.append(exc)
                return 0

        n = ctypes.c_int32(0)
        status = self._lib.edgevlm_session_generate(self._handle, ctypes.byref(params), _TOKEN_FN(call), None,
                                                    ctypes.byref(n))
        if failure:
            raise failure[0]
        self._check(status, "generate")
        return n.value

    def piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = self._lib.edgevlm_session_token_piece(self._handle, token, buf, len(buf))
        return buf.raw[:n] if n > 0 else b""

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise LlamaError(f"{what}: {self._lib.edgevlm_last_error().decode(errors='replace')}")

    def close(self) -> None:
        if getattr(self, "_handle", None):
            self._lib.edgevlm_session_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
