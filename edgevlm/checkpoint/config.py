"""The typed, validated configuration of a MobileVLM / MobileLLaMA checkpoint.

Built from the checkpoint's Hugging Face ``config.json``. Only the Hugging Face keys count: the 3B configs
also carry stale keys from another training framework (``n_head: 16``, ``n_embd``, ...) which are ignored.
Real MobileVLM configs carry no CLIP config: the vision tower is described by whatever
``edgevlm.checkpoint.tower.resolve_tower`` finds (``vision_config``, the tower folder, the Hugging Face
cache, the built-in ViT-L/14-336, or ``--vision-tower``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from edgevlm.checkpoint.tower import (BUILTIN_TOWER, CLIP_MEAN, CLIP_STD, VISION_KEYS, Tower, VisionDescription,
                                      resolve_tower)
from edgevlm.errors import InputNotFound, InvalidCheckpoint, UnsupportedModel

ProjectorType = Literal["ldpnet", "ldpnetv2"]
PROJECTOR_TYPES: tuple[str, ...] = get_args(ProjectorType)

ARCH_MOBILEVLM = "MobileLlamaForCausalLM"
ARCH_LLAMA = "LlamaForCausalLM"
ARCHITECTURES = (ARCH_MOBILEVLM, ARCH_LLAMA)

__all__ = ["CLIP_MEAN", "CLIP_STD", "LLMConfig", "MobileVLMConfig", "VisionConfig"]


@dataclass(frozen=True)
class LLMConfig:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    bos_token_id: int = 1
    eos_token_id: int = 2
    pad_token_id: int = 0
    tie_word_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


@dataclass(frozen=True)
class VisionConfig(VisionDescription):
    """The tower's description (wherever it came from) + which hidden state MobileVLM takes."""
    select_layer: int = -2

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    @property
    def n_layers_used(self) -> int:
        """Encoder layers whose output is the feature: hidden_states[select_layer], hidden_states[0] = embeddings."""
        return self.num_hidden_layers + 1 + self.select_layer if self.select_layer < 0 else self.select_layer

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def se_channels(width: int) -> int:
    """Squeeze-excitation width of LDP v1: torchvision's _make_divisible(width // 4, 8) (2048 → 512, 2560 → 640)."""
    v = width // 4
    new_v = max(8, int(v + 4) // 8 * 8)
    return new_v + 8 if new_v < 0.9 * v else new_v


@dataclass(frozen=True)
class MobileVLMConfig:
    architecture: str
    model_type: str
    llm: LLMConfig
    vision: VisionConfig | None
    projector_type: ProjectorType | None
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    tower: Tower | None = field(default=None, compare=False, repr=False)

    @property
    def is_multimodal(self) -> bool:
        return self.vision is not None

    @property
    def vision_tower_name(self) -> str | None:
        return self.raw.get("mm_vision_tower") if self.is_multimodal else None

    @property
    def projector_tokens(self) -> int:
        """Image tokens the projector emits: 144 for the 24×24 grid (v1: stride-2 conv; v2: pool to 12×12)."""
        if self.vision is None:
            return 0
        if self.projector_type == "ldpnetv2":
            return 12 * 12
        side = (self.vision.grid - 1) // 2 + 1
        return side * side

    @classmethod
    def from_hf_dict(cls, d: dict, vision_tower: str | Path | None = None) -> MobileVLMConfig:
        """`vision_tower` (``--vision-tower``) overrides where the tower's description comes from."""
        if not isinstance(d, dict):
            raise InvalidCheckpoint("config.json does not hold a JSON object")
        architecture = _architecture(d)
        llm = _llm_config(d)
        if architecture == ARCH_LLAMA:
            return cls(architecture, str(d.get("model_type", "llama")), llm, None, None, raw=dict(d))
        projector = _projector_type(d)  # cheap checks first: resolving the tower may read files
        tower = resolve_tower(d, vision_tower)
        vision = _vision_config(d, tower)
        _check_multimodal_options(d, vision)
        return cls(architecture, str(d.get("model_type", "mobilevlm")), llm, vision, projector, tower.image_mean,
                   tower.image_std, dict(d), tower)

    @classmethod
    def load(cls, checkpoint_dir: Path, vision_tower: str | Path | None = None) -> MobileVLMConfig:
        path = Path(checkpoint_dir) / "config.json"
        if not path.is_file():
            raise InputNotFound(f"no config.json in {checkpoint_dir}",
                                hint="point at a Hugging Face checkpoint folder (config.json + weights)")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidCheckpoint(f"{path} is not valid JSON: {exc}") from exc
        return cls.from_hf_dict(d, vision_tower)

    def to_hf_dict(self) -> dict:
        """config.json content: the typed fields over the raw keys (unknown raw keys are preserved)."""
        out = dict(self.raw)
        out.update(_llm_keys(self.llm))
        out["architectures"] = [self.architecture]
        out["model_type"] = self.model_type
        out.setdefault("torch_dtype", "bfloat16")
        if self.vision is not None:
            out.update(_mm_keys(self))
        return dict(sorted(out.items()))


# --- parsing helpers --------------------------------------------------------------------------------------

def _architecture(d: dict) -> str:
    archs = d.get("architectures")
    if not isinstance(archs, list) or len(archs) != 1:
        raise InvalidCheckpoint(f"config.json `architectures` must list one architecture, got {archs!r}")
    arch = archs[0]
    if arch not in ARCHITECTURES:
        raise UnsupportedModel(f"architecture {arch!r} is not supported; accepted: {', '.join(ARCHITECTURES)}")
    if arch == ARCH_MOBILEVLM and "mm_vision_tower" not in d:
        raise InvalidCheckpoint(f"{ARCH_MOBILEVLM} config has no `mm_vision_tower`")
    return arch


def _req(d: dict, key: str, typ: type, where: str = "config.json") -> Any:
    if key not in d:
        raise InvalidCheckpoint(f"{where} is missing `{key}`")
    value = d[key]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        raise InvalidCheckpoint(f"{where} `{key}` must be {typ.__name__}, got {value!r}")
    if typ in (int, float) and value <= 0:
        raise InvalidCheckpoint(f"{where} `{key}` must be positive, got {value!r}")
    return value


def _opt(d: dict, key: str, typ: type, default: Any, where: str = "config.json") -> Any:
    return _req(d, key, typ, where) if d.get(key) is not None else default


def _llm_config(d: dict) -> LLMConfig:
    heads = _req(d, "num_attention_heads", int)
    llm = LLMConfig(
        hidden_size=_req(d, "hidden_size", int),
        num_hidden_layers=_req(d, "num_hidden_layers", int),
        num_attention_heads=heads,
        num_key_value_heads=_opt(d, "num_key_value_heads", int, heads),
        intermediate_size=_req(d, "intermediate_size", int),
        vocab_size=_req(d, "vocab_size", int),
        rms_norm_eps=_opt(d, "rms_norm_eps", float, 1e-6),
        rope_theta=_opt(d, "rope_theta", float, 10000.0),
        max_position_embeddings=_opt(d, "max_position_embeddings", int, 2048),
        bos_token_id=int(d.get("bos_token_id", 1)),
        eos_token_id=int(d.get("eos_token_id", 2)),
        pad_token_id=int(d.get("pad_token_id") if d.get("pad_token_id") is not None else 0),
        tie_word_embeddings=bool(d.get("tie_word_embeddings", False)),
    )
    if llm.hidden_size % llm.num_attention_heads:
        raise InvalidCheckpoint(f"hidden_size {llm.hidden_size} is not divisible by num_attention_heads {heads}")
    if llm.num_attention_heads % llm.num_key_value_heads:
        raise InvalidCheckpoint(f"num_attention_heads {heads} is not a multiple of num_key_value_heads "
                                f"{llm.num_key_value_heads}")
    if d.get("hidden_act", "silu") != "silu":
        raise UnsupportedModel(f"LLM hidden_act {d['hidden_act']!r} is not supported; accepted: silu")
    if d.get("rope_scaling") is not None:
        raise UnsupportedModel(f"rope_scaling {d['rope_scaling']!r} is not supported (MobileLLaMA uses none)")
    return llm


def _vision_config(d: dict, tower: Tower) -> VisionConfig:
    select_layer = d.get("mm_vision_select_layer", -2)
    if not isinstance(select_layer, int) or isinstance(select_layer, bool):
        raise InvalidCheckpoint(f"`mm_vision_select_layer` must be an integer, got {select_layer!r}")
    described = {k: getattr(tower.description, k) for k in VISION_KEYS}
    vision = VisionConfig(**described, select_layer=select_layer)
    if not 1 <= vision.n_layers_used <= vision.num_hidden_layers:
        raise InvalidCheckpoint(f"`mm_vision_select_layer` {select_layer} is out of range for a "
                                f"{vision.num_hidden_layers}-layer vision tower")
    return vision


def _projector_type(d: dict) -> ProjectorType:
    value = d.get("mm_projector_type")
    if value not in PROJECTOR_TYPES:  # exact match only: no prefix guessing (MobileVLM itself uses startswith)
        raise UnsupportedModel(f"mm_projector_type {value!r} is not supported; accepted: "
                               f"{', '.join(PROJECTOR_TYPES)}")
    return value


def _check_multimodal_options(d: dict, vision: VisionConfig) -> None:
    mm_hidden = d.get("mm_hidden_size", vision.hidden_size)
    if mm_hidden != vision.hidden_size:
        raise InvalidCheckpoint(f"`mm_hidden_size` {mm_hidden} does not equal the vision tower's hidden size "
                                f"{vision.hidden_size}")
    exact = {"mm_vision_select_feature": "patch", "image_aspect_ratio": "pad", "vision_tower_type": "clip",
             "mm_use_im_start_end": False, "mm_use_im_patch_token": False}
    for key, accepted in exact.items():
        if key in d and d[key] != accepted:
            raise UnsupportedModel(f"`{key}` {d[key]!r} is not supported; accepted: {accepted!r}")


# --- serialisation helpers --------------------------------------------------------------------------------

def _llm_keys(llm: LLMConfig) -> dict:
    out = {f.name: getattr(llm, f.name) for f in dataclasses.fields(llm)}
    out.update(hidden_act="silu", rope_scaling=None)
    return out


def _mm_keys(cfg: MobileVLMConfig) -> dict:
    vision = cfg.vision
    tower = cfg.raw.get("mm_vision_tower", BUILTIN_TOWER)
    out = {
        "mm_vision_tower": tower, "mm_hidden_size": vision.hidden_size, "mm_projector_type": cfg.projector_type,
        "mm_vision_select_layer": vision.select_layer, "mm_vision_select_feature": "patch",
        "image_aspect_ratio": "pad", "vision_tower_type": "clip",
        "mm_use_im_start_end": False, "mm_use_im_patch_token": False,
    }
    if cfg.tower is not None and cfg.tower.source == "config":
        out["vision_config"] = {key: getattr(vision, key) for key in VISION_KEYS} | {"model_type": "clip_vision_model"}
    if tuple(cfg.image_mean) != CLIP_MEAN or tuple(cfg.image_std) != CLIP_STD:
        out.update(image_mean=list(cfg.image_mean), image_std=list(cfg.image_std))
    return out
