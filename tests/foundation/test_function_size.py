"""No function of the package takes more than 8 parameters (issue 19): a longer list is a typed options object
(a frozen dataclass: `ConvertOptions`, `CompareOptions`, `DeviceRequest`, a command's `...Args`)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOST = 8


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    return [n for n in names if n not in ("self", "cls")]


def test_no_function_takes_more_than_8_parameters():
    over = {}
    for path in sorted((ROOT / "edgevlm").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if len(params := _parameters(node)) > MOST:
                    where = f"{path.relative_to(ROOT)}:{node.lineno} {getattr(node, 'name', 'lambda')}"
                    over[where] = len(params)
    assert over == {}, f"more than {MOST} parameters: pass a typed options object instead"
