"""Where the CLIP vision tower is described (and, when the checkpoint lacks them, where its weights are).

Real MobileVLM configs name the tower (``mm_vision_tower``) but do not describe it: upstream MobileVLM calls
``CLIPVisionModel.from_pretrained(mm_vision_tower)``, a repo id or the local folder training left behind.
One resolver, used by convert, verify, the reference and (through the manifest) the runtime, in this order:

1. ``--vision-tower PATH|REPO_ID`` (override) — a folder or a Hugging Face repo id, resolved as below;
2. a ``vision_config`` dict in config.json (what ``edgevlm synth`` writes for its tiny towers);
3. ``mm_vision_tower`` as an existing local folder: its ``config.json`` (a ``CLIPConfig`` with a
   ``vision_config``, or a ``CLIPVisionConfig``, read by transformers itself so omitted keys take
   transformers' defaults exactly as upstream) and its ``preprocessor_config.json`` (mean, std);
4. ``mm_vision_tower`` as a repo id found in the local Hugging Face cache (no network);
5. the built-in description of ``openai/clip-vit-large-patch14-336`` (exact name only);
6. the repo id downloaded (config + preprocessor only), unless ``HF_HUB_OFFLINE`` is set.

Nothing else: no guessing from tensor shapes (the head count cannot be read off a weight matrix).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from edgevlm.errors import InputNotFound, InvalidCheckpoint, UnsupportedModel

BUILTIN_TOWER = "openai/clip-vit-large-patch14-336"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TOWER_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_PREPROCESSOR = "preprocessor_config.json"
HINT = ("pass --vision-tower with the CLIP tower's local folder (config.json + preprocessor_config.json) "
        f"or its Hugging Face repo id, e.g. --vision-tower {BUILTIN_TOWER}")


@dataclass(frozen=True)
class VisionDescription:
    """The CLIPVisionConfig fields edgevlm uses (transformers' key names)."""
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    image_size: int = 336
    patch_size: int = 14
    layer_norm_eps: float = 1e-5
    hidden_act: str = "quick_gelu"
    projection_dim: int = 768


VISION_KEYS = tuple(VisionDescription.__dataclass_fields__)


@dataclass(frozen=True)
class Tower:
    """A resolved vision tower: its description, and where it came from (recorded in manifest.json)."""
    description: VisionDescription
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    source: str                 # override-folder | override-hf-cache | override-download | config | local-folder |
                                # hf-cache | built-in | download
    name: str                   # what named it: the folder / repo id (or "config.json vision_config")
    folder: Path | None = field(default=None, compare=False)  # the folder holding its config and weights

    def weight_file(self) -> Path | None:
        """The tower folder's weights (safetensors preferred: one format, never both)."""
        if self.folder is None:
            return None
        for name in TOWER_WEIGHT_FILES:
            if (self.folder / name).is_file():
                return self.folder / name
        return None

    def record(self) -> dict:
        return {"source": self.source, "name": self.name, "folder": str(self.folder) if self.folder else None,
                "image_mean": list(self.image_mean), "image_std": list(self.image_std),
                **{k: getattr(self.description, k) for k in VISION_KEYS}}

    def describe(self) -> str:
        where = {"config": "config.json `vision_config`", "built-in": f"edgevlm's built-in {BUILTIN_TOWER}"}
        return where.get(self.source, f"{self.name} ({self.source})")


BUILTIN = Tower(VisionDescription(), CLIP_MEAN, CLIP_STD, "built-in", BUILTIN_TOWER)


def resolve_tower(d: dict, override: str | os.PathLike | None = None) -> Tower:
    """The tower of a MobileVLM config dict (see the module docstring for the order)."""
    if override is not None:
        return _override(str(override))
    if isinstance(d.get("vision_config"), dict):
        mean = tuple(float(x) for x in d.get("image_mean", CLIP_MEAN))
        std = tuple(float(x) for x in d.get("image_std", CLIP_STD))
        return Tower(description_from_dict(d["vision_config"], "config.json `vision_config`"), mean, std,
                     "config", "config.json vision_config")
    name = d.get("mm_vision_tower")
    if not isinstance(name, str) or not name:
        raise InvalidCheckpoint(f"`mm_vision_tower` must name the vision tower, got {name!r}", hint=HINT)
    local = Path(name).expanduser()
    if local.is_dir():
        return from_folder(local, "local-folder", name)
    if looks_like_path(name):
        raise UnsupportedModel(f"the vision tower folder {name} (config.json `mm_vision_tower`, the path "
                               "training left behind) does not exist here", hint=HINT)
    cached = _from_hf_cache(name, "hf-cache")
    if cached is not None:
        return cached
    if name == BUILTIN_TOWER:
        return BUILTIN
    if _offline():
        raise UnsupportedModel(f"nothing here describes the vision tower {name!r}: not a local folder, not in "
                               "the Hugging Face cache, and downloads are off (HF_HUB_OFFLINE)", hint=HINT)
    return _download(name, "download", weights=False)


def with_weights(tower: Tower) -> Tower:
    """The same tower with a folder that holds its weights (downloads them when allowed and needed)."""
    if tower.weight_file() is not None:
        return tower
    repo = tower.name if tower.source in ("built-in", "hf-cache", "download", "override-hf-cache",
                                          "override-download") else None
    if repo is None or _offline():
        raise InvalidCheckpoint(
            f"the checkpoint holds no vision tower weights and {tower.describe()} has none either "
            f"(expected {' or '.join(TOWER_WEIGHT_FILES)})", hint=HINT)
    downloaded = _download(repo, tower.source, weights=True)
    return replace(tower, folder=downloaded.folder)


# --- the places a tower can be described ----------------------------------------------------------------

def _override(text: str) -> Tower:
    local = Path(text).expanduser()
    if local.is_dir():
        return from_folder(local.resolve(), "override-folder", text)
    if local.exists() or looks_like_path(text):
        raise InputNotFound(f"--vision-tower {text}: no such folder",
                            hint="give the CLIP tower's folder (config.json + weights) or a repo id")
    cached = _from_hf_cache(text, "override-hf-cache")
    if cached is not None:
        return cached
    if text == BUILTIN_TOWER:
        return replace(BUILTIN, source="built-in")
    if _offline():
        raise InputNotFound(f"--vision-tower {text} is not in the local Hugging Face cache and downloads are off "
                            "(HF_HUB_OFFLINE)", hint="unset HF_HUB_OFFLINE or give a local folder")
    return _download(text, "override-download", weights=False)


def from_folder(folder: Path, source: str, name: str) -> Tower:
    """A Hugging Face CLIP folder: config.json read by transformers' CLIPVisionConfig, preprocessor's mean/std."""
    if not (folder / "config.json").is_file():
        raise InvalidCheckpoint(f"vision tower folder {folder} has no config.json", hint=HINT)
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidCheckpoint(f"{folder / 'config.json'} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("model_type") not in ("clip", "clip_vision_model"):
        raise UnsupportedModel(f"{folder / 'config.json'} is not a CLIP config (model_type "
                               f"{raw.get('model_type') if isinstance(raw, dict) else None!r}; accepted: clip, "
                               "clip_vision_model)", hint=HINT)
    description = description_from_dict(_clip_vision_dict(folder), f"{folder}/config.json")
    mean, std = _preprocessor(folder)
    return Tower(description, mean, std, source, name, folder)


def _clip_vision_dict(folder: Path) -> dict:
    """transformers' own reading (CLIPConfig → its vision_config; omitted keys → transformers' defaults)."""
    from transformers import CLIPVisionConfig  # lazy: heavy, optional

    try:
        return CLIPVisionConfig.from_pretrained(str(folder), local_files_only=True).to_dict()
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidCheckpoint(f"cannot read the CLIP config in {folder}: {str(exc).splitlines()[0]}",
                                hint=HINT) from exc


def _preprocessor(folder: Path) -> tuple[tuple, tuple]:
    path = folder / _PREPROCESSOR
    if not path.is_file():  # CLIPImageProcessor's defaults are OpenAI CLIP's mean/std
        return CLIP_MEAN, CLIP_STD
    try:
        p = json.loads(path.read_text(encoding="utf-8"))
        mean, std = tuple(float(x) for x in p.get("image_mean", CLIP_MEAN)), tuple(
            float(x) for x in p.get("image_std", CLIP_STD))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise InvalidCheckpoint(f"{path} is not a valid image processor config: {exc}") from exc
    if len(mean) != 3 or len(std) != 3:
        raise InvalidCheckpoint(f"{path}: image_mean and image_std need 3 values each")
    return mean, std


def description_from_dict(vc: dict, where: str) -> VisionDescription:
    defaults = VisionDescription()
    kwargs = {}
    for key in VISION_KEYS:
        default = getattr(defaults, key)
        value = vc.get(key, default)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, type(default)) or isinstance(value, bool) or (
                isinstance(value, (int, float)) and value <= 0):
            raise InvalidCheckpoint(f"{where}: `{key}` must be a positive {type(default).__name__}, got {value!r}")
        kwargs[key] = value
    v = VisionDescription(**kwargs)
    if v.image_size % v.patch_size:
        raise InvalidCheckpoint(f"{where}: image_size {v.image_size} is not a multiple of patch_size {v.patch_size}")
    if v.hidden_size % v.num_attention_heads:
        raise InvalidCheckpoint(f"{where}: hidden_size is not divisible by num_attention_heads")
    if v.hidden_act != "quick_gelu":
        raise UnsupportedModel(f"{where}: hidden_act {v.hidden_act!r} is not supported; accepted: quick_gelu")
    return v


# --- Hugging Face cache and hub --------------------------------------------------------------------------

def looks_like_path(text: str) -> bool:
    """A name the user meant as a path: ./x, ../x, /x, ~/x, or a/b whose first part is a local folder."""
    if text.startswith((".", "/", "~")) or os.sep in text and Path(text.split(os.sep)[0]).is_dir():
        return True
    return len(text.split("/")) != 2


def _offline() -> bool:
    # read now, not when huggingface_hub was first imported
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hf_cache_dir() -> Path:
    """The hub cache as huggingface_hub computes it, from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(home).expanduser() / "hub"


def _from_hf_cache(repo_id: str, source: str) -> Tower | None:
    from huggingface_hub import try_to_load_from_cache  # lazy: network client, heavy

    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=str(hf_cache_dir()))
    except ValueError:  # not a valid repo id
        return None
    if not isinstance(found, str):
        return None
    return from_folder(Path(found).parent, source, repo_id)


def _download(repo_id: str, source: str, weights: bool) -> Tower:
    """Fetch the tower's config (and with `weights`, one weight format: safetensors, else the .bin)."""
    from huggingface_hub import hf_hub_download  # lazy: network client, heavy
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError  # lazy: network client, heavy

    def get(filename: str) -> Path:
        return Path(hf_hub_download(repo_id, filename, cache_dir=str(hf_cache_dir())))

    try:
        folder = get("config.json").parent
        try:
            get(_PREPROCESSOR)
        except EntryNotFoundError:
            pass
        if weights:
            try:
                get(TOWER_WEIGHT_FILES[0])
            except EntryNotFoundError:
                get(TOWER_WEIGHT_FILES[1])
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise UnsupportedModel(f"could not fetch the vision tower {repo_id}: {str(exc).splitlines()[0]}",
                               hint=HINT) from exc
    return from_folder(folder, source, repo_id)
