"""The two-way coverage check, run before any byte is written: every source tensor is mapped by some table
or explicitly ignored, every target finds its source with the expected shape. All problems in one error."""
from __future__ import annotations

from typing import Mapping, Sequence

from edgevlm.errors import TensorMappingError
from edgevlm.mapping.spec import Table

_MAX_LISTED = 40  # a wrong projector type misses every projector tensor: list enough to see the pattern


def check_coverage(tables: Sequence[Table], source_shapes: Mapping[str, tuple[int, ...]]) -> None:
    mapped: set[str] = set()
    missing, misshaped = [], []
    for table in tables:
        for spec in table.specs:
            mapped.add(spec.source)
            shape = source_shapes.get(spec.source)
            if shape is None:
                missing.append(f"{spec.source} (for {spec.target})")
            elif tuple(shape) != spec.shape:
                misshaped.append(f"{spec.source}: {tuple(shape)}, expected {spec.shape}")
    extra = [n for n in source_shapes
             if n not in mapped and not any(t.is_ignored(n) for t in tables)]
    if missing or misshaped or extra:
        raise TensorMappingError(_message(missing, extra, misshaped),
                                 hint="is this the checkpoint the config describes (projector type, sizes)?")


def _message(missing: list[str], extra: list[str], misshaped: list[str]) -> str:
    parts = []
    for label, items in (("missing", missing), ("unexpected", extra), ("misshaped", misshaped)):
        if items:
            shown = items[:_MAX_LISTED]
            more = f"; … and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
            parts.append(f"{len(items)} {label} tensor(s): {'; '.join(shown)}{more}")
    return "checkpoint tensors do not match the model: " + " | ".join(parts)
