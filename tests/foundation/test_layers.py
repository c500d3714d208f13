"""The layering of pyproject.toml's import-linter contracts holds, is issue 19's, and every module of the package
has a place in it; imports sit at module level, where lint-imports sees them, but for the marked heavy ones.

A new top-level module or package that is in no layer would escape the contracts silently: it must be added to
the layers (or to BESIDE, the reference and verify that stand beside the stack)."""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BESIDE = {"reference", "verify"}     # the PyTorch judge and its checks: outside the stack, forbidden below it
CONTAINER = {"__init__", "__main__"}


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_lint_imports_contracts_hold():
    # lint-imports sits beside the interpreter (the venv's bin/): the test extra installs it
    tool = Path(sys.executable).with_name("lint-imports")
    assert tool.is_file(), "import-linter is missing: pip install -e '.[test]'"
    proc = subprocess.run([str(tool), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _layer_of() -> dict[str, int]:
    """Module (without `edgevlm.`) → its layer's index in the layers contract, 0 = the top (the cli)."""
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    return {name.strip().removeprefix("edgevlm."): i for i, layer in enumerate(layers)
            for name in layer.replace(":", "|").split("|")}


def test_every_module_has_a_layer():
    placed = set(_layer_of())
    present = {p.stem for p in (ROOT / "edgevlm").iterdir()
               if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()))} - CONTAINER
    assert present - placed - BESIDE == set(), "add these to a layer in pyproject.toml [tool.importlinter]"
    assert placed - present == set(), "the layers name modules that do not exist"


# Issue 19 item 5, top to bottom: cli → lab → bench → device/store/report → convert/runtime →
# checkpoint/ggufio/mapping → primitives (errors the lowest of them).
ISSUE_19_LAYERS = [{"cli"}, {"lab"}, {"bench"}, {"device", "store", "report"}, {"convert", "runtime"},
                   {"checkpoint", "ggufio", "mapping"}, {"errors"}]
RUN_THE_CHECKS = {"cli", "demo"}     # `edgevlm verify` and the demo's verify stage: the two callers of verify


def test_the_layers_are_issue_19s():
    at = _layer_of()
    ranks = [{at[name] for name in group} for group in ISSUE_19_LAYERS]
    assert all(len(r) == 1 for r in ranks), "each group of issue 19 shares one layer"
    order = [min(r) for r in ranks]
    assert order == sorted(set(order)), "the groups are in issue 19's order, one layer each"


def test_reference_and_verify_stand_beside_the_stack():
    """Nothing of the stack imports the PyTorch judge or its checks, but the two places that run them; and the
    judge and its checks import nothing above convert/runtime."""
    forbidden = {frozenset(c["forbidden_modules"]): c for c in _contracts() if c["type"] == "forbidden"}
    beside = {f"edgevlm.{m}" for m in BESIDE}
    sources = {m.removeprefix("edgevlm.") for m in forbidden[frozenset(beside)]["source_modules"]}
    assert sources == set(_layer_of()) - RUN_THE_CHECKS
    above = {m for m, i in _layer_of().items() if i < _layer_of()["convert"]}
    upward = next(c for c in forbidden.values() if set(c["source_modules"]) == beside)
    assert {m.removeprefix("edgevlm.") for m in upward["forbidden_modules"]} == above


# The only imports that may sit inside a function: heavy dependencies that `edgevlm --help` must not load (the CLI
# imports every command module to list them, so a module-level import is paid by every command), each marked
# `# lazy: <why>` on its import line. Measured on top of what `edgevlm --help` already loads (make_app()). numpy,
# gguf, sqlalchemy, sentencepiece, safetensors and rich are loaded by it anyway: they are imported at the top.
LAZY = {
    "torch": "~1.2 s",
    "transformers": "~0.7 s",
    "scipy": "~1.2 s for scipy.stats",
    "matplotlib": "~0.45 s, charts only",
    "ray": "~0.25 s, the lab extra",
    "psycopg": "~0.12 s, the lab extra",
    "alembic": "~0.13 s, store migrations only",
    "huggingface_hub": "0.07-0.2 s, downloads only",
    "PIL": "~20 ms, images only",
    "psutil": "~20 ms, the lab node's process table only",
    "llama_cpp": "loads libllama at import, after edgevlm.llama_env has pointed it at edgevlm's build",
}
MARK = "# lazy:"


def _imports(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    """Every import of a module: (node, inside a function or class, inside a package's PEP 562 __getattr__)."""
    out = []

    def walk(node, nested: bool, getattr_: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append((child, nested, getattr_))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                pep562 = node is tree and path.name == "__init__.py" and getattr(child, "name", "") == "__getattr__"
                walk(child, True, getattr_ or pep562)
            else:
                walk(child, nested, getattr_)

    tree = ast.parse(path.read_text())
    walk(tree, False, False)
    return out


def _top(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.ImportFrom):
        return {"." if node.level else node.module.split(".")[0]}
    return {alias.name.split(".")[0] for alias in node.names}


def _import_problems(path: Path, root: Path = ROOT) -> list[str]:
    lines = path.read_text().splitlines()
    problems = []
    for node, nested, getattr_ in _imports(path):
        marked = any(MARK in line for line in lines[node.lineno - 1:node.end_lineno])
        where = f"{path.relative_to(root)}:{node.lineno}: {lines[node.lineno - 1].strip()}"
        if marked and not (nested and _top(node) <= LAZY.keys()):
            problems.append(f"{where}  <- `{MARK}` is for a function-level import of LAZY only")
        elif nested and not marked and not getattr_:
            problems.append(f"{where}  <- import at module level (or, for a LAZY dependency, mark `{MARK} why`)")
    return problems


def test_imports_are_at_module_level():
    """The real dependency graph is visible to readers and to lint-imports: imports sit at the top of the module.
    An import cycle is a layering bug to fix, not to hide in a function. The exceptions: a LAZY dependency,
    marked on its line; and a package's PEP 562 `__getattr__` (edgevlm.Runtime: `import edgevlm` stays cheap)."""
    problems = [p for path in sorted((ROOT / "edgevlm").rglob("*.py")) for p in _import_problems(path)]
    assert problems == [], "\n".join(problems)


def test_the_lazy_marker_is_checked(tmp_path):
    """The check above fails on each of its three cases (so the marker cannot be sprayed)."""
    pkg = tmp_path / "edgevlm"
    pkg.mkdir()
    (pkg / "mod.py").write_text(
        "import numpy  # lazy: module level\n"
        "def f():\n"
        "    import torch  # lazy: heavy\n"
        "    import json\n"
        "    from gguf import GGUFReader  # lazy: not LAZY\n")
    found = [p.split("  <- ")[0].split(": ", 1)[0] for p in _import_problems(pkg / "mod.py", tmp_path)]
    assert found == ["edgevlm/mod.py:1", "edgevlm/mod.py:4", "edgevlm/mod.py:5"]


def test_cli_start_loads_no_lazy_dependency():
    """`edgevlm --help` imports every command module; none of the LAZY dependencies may come with them (else their
    marks would be wrong, and every command would pay for them)."""
    code = ("import sys; from edgevlm.cli import make_app; make_app(); "
            f"print(' '.join(sorted(m for m in {sorted(LAZY)!r} if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == []
