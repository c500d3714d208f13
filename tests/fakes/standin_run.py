"""A shell stand-in for edgevlm-run, for orchestration tests where the work itself does not matter.

Its parser is generated from the same option table as the real binary's (kernels/runtime/options.def via
edgevlm.bench.options), so it refuses exactly what the real one refuses: an unknown option or a missing value
exits 2 with edgevlm-run's message. It writes a record of edgevlm-run's shape with fixed timings, and the
workload it was asked for (--prompt-tokens, -n, image tokens when --image is given).
"""
from __future__ import annotations

from edgevlm.bench.options import options

RECORD = ('{"load_ms": 120.5, "vit_ms": %s, "projector_ms": %s, "image_encode_ms": %s, "image_tokens": %s, '
          '"prompt_tokens": %s, "prompt_ms": 800.0, "prompt_tps": 307.5, "gen_tokens": %s, "decode_ms": 800.0, '
          '"decode_tps": 20.0, "ttft_ms": 1300.0, "peak_rss_mb": 1024.0, "llama_commit": "0c1e57098", '
          '"build_flags": "stand-in", "llm_backend": "CPU", "n_gpu_layers": 0, "text": "a cat", '
          '"tokens": [1, 2, 3], "threads": %s}')


def standin_script(sleep_s: float = 0.3) -> str:
    valued, flags = [], []
    for opt in options().values():
        names = "|".join(n for n in (opt.flag, opt.alias) if n)
        (flags if opt.kind == "FLAG" else valued).append((opt.key, names))
    cases = "\n".join(f'    {names}) [ $# -ge 2 ] || {{ echo "error: $1 needs a value" >&2; exit 2; }}; '
                      f'{key}=$2; shift 2;;' for key, names in valued)
    cases += "\n" + "\n".join(f"    {names}) shift;;" for _, names in flags)
    return f"""#!/bin/sh
# stand-in for edgevlm-run (generated from kernels/runtime/options.def): same options, fixed timings
json=""; threads=4; n_predict=128; prompt_tokens=0; image=""
while [ $# -gt 0 ]; do
  case "$1" in
{cases}
    *) echo "error: unknown option $1" >&2; exit 2;;
  esac
done
[ -n "$model" ] || {{ echo "error: -m LLM.gguf is required" >&2; exit 2; }}
if [ -n "$image" ]; then img=144; vit=400.0; proj=12.5; enc=412.5; else img=0; vit=0; proj=0; enc=0; fi
[ "$prompt_tokens" -gt 0 ] || prompt_tokens=$((img + 40))
sleep {sleep_s}
[ -z "$json" ] || printf '{RECORD}\\n' $vit $proj $enc $img $prompt_tokens $n_predict $threads > "$json"
"""


ARM_DEFS = {"GGML_CPU_ARM_ARCH": "armv8.2-a+dotprod+fp16"}


def standin_bundle(folder, target: str = "android-arm64", *, sleep_s: float = 0.3, cmake_defs=None):
    """A bundle folder (stand-in edgevlm-run + build-info.json) and its Bundle."""
    import json

    from edgevlm.toolchain.bundle import Bundle

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "edgevlm-run").write_text(standin_script(sleep_s))
    (folder / "edgevlm-run").chmod(0o755)
    info = {"target": target, "tools": ["edgevlm-run"], "llama_cpp_commit": "0c1e57098",
            "cmake_defs": ARM_DEFS if cmake_defs is None else cmake_defs}
    (folder / "build-info.json").write_text(json.dumps(info))
    return Bundle(target, folder, info)


def random_model(folder, llm_bytes: int, mmproj_bytes: int):
    """A model folder of the converter's file names holding random bytes (the stand-in never reads them)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny-Q8_0.gguf").write_bytes(os.urandom(llm_bytes))
    (folder / "mmproj-tiny-F16.gguf").write_bytes(os.urandom(mmproj_bytes))
    return folder
