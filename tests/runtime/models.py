"""Converted tiny models shared by the vision and runtime tests: one conversion per (preset, mmproj quant),
LLM in f32 (so the reference's greedy decode is the exact judge)."""
from __future__ import annotations

from pathlib import Path

from edgevlm.similarity import per_token_cosine  # noqa: F401  (re-exported: the native tests import it here)

PRESET_VERSION = {"tiny-v1": "v1", "tiny-v2": "v2"}


def make_converter(tmp_path_factory, synth_ckpt):
    made: dict[tuple[str, str], Path] = {}

    def get(preset: str, mmproj_quant: str = "f32") -> Path:
        from edgevlm.convert import convert

        key = (preset, mmproj_quant)
        if key not in made:
            out = tmp_path_factory.mktemp("converted") / f"{preset}-{mmproj_quant}"
            convert(synth_ckpt(preset, "bin"), out, quant="f32", mmproj_quant=mmproj_quant)
            made[key] = out
        return made[key]

    return get


def make_reference(synth_ckpt):
    """reference(preset) -> MobileVLMReference (f32) of the tiny checkpoint, loaded once."""
    cache = {}

    def get(preset: str):
        from edgevlm.reference import MobileVLMReference

        if preset not in cache:
            cache[preset] = MobileVLMReference.load(synth_ckpt(preset, "bin"))
        return cache[preset]

    return get
