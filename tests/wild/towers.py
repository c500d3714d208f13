"""CLIP tower folders as users have them: written by transformers' own CLIPModel / CLIPVisionModel
save_pretrained and CLIPImageProcessor save_pretrained (not by edgevlm), with the tiny tower's widths and
the real 336 px / patch-14 geometry."""
from __future__ import annotations

from pathlib import Path

# The tiny synthetic tower of edgevlm's tiny presets, as transformers CLIPVisionConfig keys.
TINY_VISION = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256,
                   image_size=336, patch_size=14, projection_dim=64, hidden_act="quick_gelu", layer_norm_eps=1e-5)
TINY_TEXT = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=99,
                 projection_dim=64)


def save_clip_folder(folder: Path, kind: str = "clip", safe: bool = True, state: dict | None = None,
                     seed: int = 0) -> Path:
    """`kind` "clip": a full CLIPModel (text tower too, as openai/clip-vit-large-patch14-336 ships it);
    "vision": a CLIPVisionModel. `state`: vision tensors to put in (MobileVLM key names stripped)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    if kind == "clip":
        model = CLIPModel(CLIPConfig(vision_config=TINY_VISION, text_config=TINY_TEXT, projection_dim=64))
        vision = model.vision_model
    else:
        model = CLIPVisionModel(CLIPVisionConfig(**TINY_VISION))
        vision = getattr(model, "vision_model", model)
    if state is not None:
        own = vision.state_dict()
        vision.load_state_dict({k: state[k] for k in own if k in state} | {k: v for k, v in own.items()
                                                                             if k not in state}, strict=True)
    model.save_pretrained(folder)
    if not safe:  # transformers 5 writes safetensors only: the .bin as torch.save writes it (openai's repo has one)
        (folder / "model.safetensors").unlink()
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}).save_pretrained(folder)
    return folder


def tower_state(ckpt_dir: Path) -> dict:
    """A checkpoint's tower tensors under the CLIP tower's own (transformers) names."""
    from edgevlm.checkpoint.keys import TOWER_PREFIX
    from edgevlm.checkpoint.reader import open_checkpoint

    ck = open_checkpoint(ckpt_dir)
    return {n[len(TOWER_PREFIX):]: ck.get(n).clone() for n in ck.names() if n.startswith(TOWER_PREFIX)}
