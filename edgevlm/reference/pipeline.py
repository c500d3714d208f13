"""MobileVLMReference: the whole MobileVLM forward in PyTorch — the judge every other path is compared with.

``stock_deviations=True`` reproduces stock llama.cpp's known deviations instead (REFERENCE.md defects 1-4):
resize-then-pad preprocessing, CLS appended last with shifted positions, one layer fewer than stored, tanh
GELU in the projector — so edgevlm can measure how far stock llama.cpp is from MobileVLM.

Weights come through ``edgevlm.checkpoint.reader.open_checkpoint`` (lazy, read-only: bin / safetensors /
sharded), one module's tensors at a time.
"""
from __future__ import annotations

from typing import Any

from edgevlm.checkpoint.reader import Checkpoint, open_checkpoint
from edgevlm.errors import InvalidCheckpoint, UnsupportedModel
from edgevlm.reference import llm as llm_mod
from edgevlm.reference import preprocess as pre
from edgevlm.reference import projector as proj_mod
from edgevlm.reference import vision as vision_mod
from edgevlm.reference.prompt import PromptIds, PromptTokenizer


def _dtype(dtype: Any):
    import torch  # lazy: torch, heavy, optional

    if dtype is None:
        return torch.float32
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def _load_module(ckpt, prefixes: tuple[str, ...], build):
    """Hand the tensors under `prefixes` to `build`, then give their pages back to the reader."""
    names = [n for n in ckpt.names() if n.startswith(prefixes)]
    tensors = {n: ckpt.get(n) for n in names}
    try:
        return build(tensors)
    except (KeyError, RuntimeError) as exc:  # strict load: missing / unexpected / misshaped tensors
        raise InvalidCheckpoint(f"{ckpt.path}: tensors under {prefixes[0]}… do not fit the config: "
                                f"{str(exc).splitlines()[0][:300]}") from exc
    finally:
        for n, t in tensors.items():
            ckpt.release(n, t)


class MobileVLMReference:
    def __init__(self, config, llm, tokenizer, clip=None, projector=None, *, stock_deviations=False,
                 stock_stored_layers=None):
        self.config = config
        self.llm = llm
        self.tokenizer = tokenizer
        self.clip = clip
        self.projector = projector
        self.stock_deviations = stock_deviations
        self.stock_stored_layers = stock_stored_layers

    @classmethod
    def load(cls, checkpoint, dtype=None, stock_deviations: bool = False,
             stock_stored_layers: int | None = None, vision_tower=None, *, llm: bool = True,
             vision: bool = True, streamed_llm: bool = False) -> MobileVLMReference:
        """`checkpoint`: a folder / repo id, or an already opened `Checkpoint` (its tower already resolved);
        `vision_tower` overrides the tower as `edgevlm convert --vision-tower` does. `llm` / `vision`: which
        parts to load (verify needs one at a time); `streamed_llm`: decoder layers loaded one at a time as
        they run (bounded memory for any model size, same math)."""
        dt = _dtype(dtype)
        ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else open_checkpoint(checkpoint, vision_tower)
        cfg = ckpt.config
        if ckpt.tokenizer_model is None:
            raise InvalidCheckpoint(f"{ckpt.path} has no tokenizer.model")
        model = None
        if llm and streamed_llm:
            model = llm_mod.build_streamed_llama(cfg.llm, ckpt, dt)
        elif llm:
            model = _load_module(ckpt, llm_mod.LLM_PREFIXES, lambda t: llm_mod.build_llama(cfg.llm, t, dt))
        tok = PromptTokenizer(ckpt.tokenizer_model, cfg.llm.bos_token_id)
        if not cfg.is_multimodal or not vision:
            return cls(cfg, model, tok)
        clip = _load_module(ckpt, (vision_mod.VISION_PREFIX,), lambda t: vision_mod.build_clip(cfg.vision, t, dt))
        projector = _load_module(ckpt, (proj_mod.PROJECTOR_PREFIX,),
                                 lambda t: proj_mod.load_projector(cfg, t, stock_deviations, dt))
        return cls(cfg, model, tok, clip, projector, stock_deviations=stock_deviations,
                   stock_stored_layers=stock_stored_layers)

    def with_stock_deviations(self, ckpt, stored_layers: int | None = None) -> MobileVLMReference:
        """The same tower (shared, not loaded again) run as stock llama.cpp runs it, with a tanh-GELU projector."""
        dt = next(self.projector.parameters()).dtype
        projector = _load_module(ckpt, (proj_mod.PROJECTOR_PREFIX,),
                                 lambda t: proj_mod.load_projector(self.config, t, True, dt))
        return MobileVLMReference(self.config, self.llm, self.tokenizer, self.clip, projector,
                                  stock_deviations=True, stock_stored_layers=stored_layers)

    # --- vision --------------------------------------------------------------------------------------------

    def _need_vision(self) -> None:
        if self.clip is None:
            raise UnsupportedModel("this checkpoint has no vision tower (an LLM-only LlamaForCausalLM)")

    def preprocess(self, img):
        """PIL image or path → float32 (3, 336, 336)."""
        self._need_vision()
        return pre.preprocess(img, self.config.vision.image_size, self.stock_deviations,
                              self.config.image_mean, self.config.image_std)

    def image_features(self, pixels):
        """(3, 336, 336) → (576, C): the selected CLIP hidden state without CLS (or stock's rows)."""
        self._need_vision()
        if self.stock_deviations:
            return vision_mod.stock_image_features(self.clip, self.config.vision, pixels, self.stock_stored_layers)
        return vision_mod.image_features(self.clip, self.config.vision, pixels)

    def project(self, features):
        """(576, C) → (144, W)."""
        import torch  # lazy: torch, heavy, optional

        self._need_vision()
        with torch.no_grad():
            return self.projector(features.unsqueeze(0).to(next(self.projector.parameters()).dtype))[0]

    def encode_image(self, img):
        """PIL image or path → (144, W) image embeddings for the LLM."""
        return self.project(self.image_features(self.preprocess(img)))

    # --- language ------------------------------------------------------------------------------------------

    def logits(self, token_ids):
        """Token ids (T,) → logits (T, V)."""
        return llm_mod.logits_for_embeds(self.llm, llm_mod.embed(self.llm, token_ids))

    def prompt_ids(self, question: str, with_image: bool = True) -> PromptIds:
        return self.tokenizer.prompt_ids(question, with_image)

    def prompt_embeds(self, question: str, img=None):
        """(T, H) input embeddings of the vicuna prompt, the image embeddings spliced in at `<image>`."""
        import torch  # lazy: torch, heavy, optional

        ids = self.prompt_ids(question, with_image=img is not None)
        parts = [llm_mod.embed(self.llm, ids.before)]
        if ids.has_image:
            parts += [self.encode_image(img).to(parts[0].dtype), llm_mod.embed(self.llm, ids.after)]
        return torch.cat(parts, dim=0)

    def prompt_logits(self, question: str, img=None):
        """(T, V) logits over the whole prompt (T = text tokens + 144 when there is an image)."""
        return llm_mod.logits_for_embeds(self.llm, self.prompt_embeds(question, img))

    def generate(self, question: str, img=None, max_new_tokens: int = 32) -> list[int]:
        """Greedy answer token ids (stops at </s>, which is not included)."""
        return llm_mod.greedy(self.llm, self.prompt_embeds(question, img), max_new_tokens,
                              self.config.llm.eos_token_id)

    def answer(self, question: str, img=None, max_new_tokens: int = 32) -> str:
        return self.tokenizer.decode(self.generate(question, img, max_new_tokens))
