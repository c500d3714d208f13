"""Typed errors. Every user-facing failure is an EdgeVLMError: the CLI prints its message and exits 2.

Library code raises these; it never calls ``exit()``. A message says what happened and what to do.
"""
from __future__ import annotations


class EdgeVLMError(Exception):
    """Base class for errors caused by the user's input or environment (exit code 2)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:  # the message a user sees
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base


class InputNotFound(EdgeVLMError):
    """A path the user named does not exist or is not what was expected."""


class InvalidCheckpoint(EdgeVLMError):
    """A checkpoint folder is incomplete, corrupt, or not a MobileVLM / MobileLLaMA checkpoint."""


class UnsupportedModel(EdgeVLMError):
    """The checkpoint is readable but describes something edgevlm does not convert (e.g. unknown projector)."""


class TensorMappingError(EdgeVLMError):
    """Source tensors and target tensors do not cover each other (missing, extra, misshaped)."""


class OutputError(EdgeVLMError):
    """The output location cannot be written (permissions, disk full, exists)."""


class NativeNotBuilt(EdgeVLMError):
    """A native library or binary is required but has not been built yet."""


class BuildError(EdgeVLMError):
    """Fetching, verifying or compiling the pinned llama.cpp / edgevlm native code failed."""


class DeviceError(EdgeVLMError):
    """A device could not be reached, or a command on it failed."""


class PreflightRefused(DeviceError):
    """The device cannot run what was asked (missing CPU feature, model too big for its space or memory)."""


class BadOption(EdgeVLMError):
    """A command-line value out of its bounds (a negative count, a size beyond the model's context, NaN)."""


class DeviceBusy(DeviceError):
    """Another edgevlm command holds the device's lock and --no-wait was given (exit 3: a device fault)."""

    exit_code = 3


class ImageError(EdgeVLMError):
    """An input image is missing, unreadable, or not an image."""


class StoreError(EdgeVLMError):
    """The results store or an imported results file is malformed."""


class LabError(EdgeVLMError):
    """The device lab cannot do what was asked (no cluster at the address, a malformed matrix, no device)."""


class CostModelError(EdgeVLMError):
    """The arm64 cost model cannot run: qemu-user, the plugin, llvm-mca or the arm64 bundle is missing, or the
    program under it failed."""


class UnknownPreset(EdgeVLMError):
    """The preset name is not one `edgevlm synth` knows."""


class BadSynthOption(EdgeVLMError):
    """An option of `edgevlm synth` has a value it does not accept."""


class BadConvertOption(EdgeVLMError):
    """An option of `edgevlm convert` has a value it does not accept."""


class NativeCallFailed(EdgeVLMError):
    """A call into libedgevlm returned an error status (its message is the library's own)."""


class LdpInputError(EdgeVLMError):
    """Features or arguments given to the LDP projector are malformed."""


class MmprojError(EdgeVLMError):
    """An mmproj file is not loadable by the native vision encoder (missing keys/tensors, wrong type)."""


class SwitchError(EdgeVLMError):
    """An EDGEVLM_* switch of the native encoder has a value it does not know."""


class LlamaError(EdgeVLMError):
    """libllama could not load the model or decode a batch."""


class ModelMismatch(EdgeVLMError):
    """The mmproj and the LLM of a model folder do not belong together."""


class ReportInputError(EdgeVLMError):
    """A report option is malformed (threshold, window, alpha, format, metric, rule)."""


class MixedRunsError(EdgeVLMError):
    """Baseline and candidate runs were measured on different hardware or settings."""


class NotAvailableYet(EdgeVLMError):
    """The command exists in the product's design but its implementation has not landed."""


class VerificationFailed(Exception):
    """A parity check did not meet its stated tolerance (exit code 1, not a user error)."""

    exit_code = 1
