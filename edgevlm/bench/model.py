"""The converted model a bench runs: MODEL_DIR/<name>-<QUANT>.gguf and MODEL_DIR/mmproj-<name>-F16.gguf."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgevlm.device.transport import sha256_file
from edgevlm.errors import InputNotFound


@dataclass(frozen=True)
class BenchModel:
    name: str
    quant: str
    llm: Path
    mmproj: Path | None

    def files(self) -> list[Path]:
        return [self.llm] + ([self.mmproj] if self.mmproj else [])

    def hashes(self) -> dict[str, str]:
        return {p.name: "sha256:" + sha256_file(p) for p in self.files()}


def find_model(model_dir: Path, quant: str | None = None) -> BenchModel:
    """Pick the LLM (one quant) and the mmproj in a converted model folder; ambiguity is an error."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputNotFound(f"model folder {model_dir} does not exist",
                            hint="convert a checkpoint first: edgevlm convert CHECKPOINT -o MODEL_DIR")
    ggufs = sorted(model_dir.glob("*.gguf"))
    llms = [p for p in ggufs if not p.name.startswith("mmproj-")]
    if quant:
        llms = [p for p in llms if p.stem.endswith(f"-{quant}")]
    if len(llms) != 1:
        names = ", ".join(p.name for p in llms) or "none"
        raise InputNotFound(f"{model_dir}: expected exactly one LLM GGUF{f' for {quant}' if quant else ''}, "
                            f"found {names}", hint="pick one with --quant")
    llm = llms[0]
    name, _, q = llm.stem.rpartition("-")
    if not name:
        name, q = llm.stem, ""
    mmprojs = sorted(model_dir.glob(f"mmproj-{name}-*.gguf")) or sorted(model_dir.glob("mmproj-*.gguf"))
    return BenchModel(name, q, llm, mmprojs[0] if mmprojs else None)
