# edgevlm — two commands on a fresh machine:
#   make demo   # the main job on built-in defaults (synthetic MobileVLM, this host, SQLite store)
#   make test   # the test suite (what .ci/run calls)
# Each does its own setup. Times on 2 cores: sysdeps ≈1 min, venv ≈2 min, native ≈12 min first time
# (seconds when nothing changed; ccache makes a clean rebuild ≈1–2 min).

PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
EDGEVLM  := $(VENV)/bin/edgevlm
STAMP    := $(VENV)/.edgevlm-installed
JOBS     ?= $(shell nproc)

# System packages: build tools, the cross compiler and qemu for android-arm64, the adb client, sshd for the
# ssh transport tests, PostgreSQL for the shared-store and lab tests; dynamic qemu-user (loads the arm64 cost
# model's TCG plugin; needs libcapstone4) and LLVM 19 (llvm-mca's Neoverse-V1/N1 models, llvm-objdump with
# dotprod/fp16). Installed only when missing.
APT_PACKAGES := cmake ninja-build ccache g++ adb qemu-user-static g++-aarch64-linux-gnu \
                openssh-server openssh-client util-linux postgresql \
                qemu-user libcapstone4 llvm-19

.PHONY: setup sysdeps venv native native-cross test demo bench clean distclean

setup: sysdeps venv native

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

# torch first and pinned: 2.13.0 is the CPU wheel on this machine's disk (an unpinned torch pulls a CUDA build).
# llama-cpp-python is installed WITHOUT its own llama.cpp build: edgevlm points it at build/host/bin.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip wheel
	$(VPY) -m pip install -q torch==2.13.0
	CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" $(VPY) -m pip install -q -e '.[test,lab]'
	touch $(STAMP)

native: venv
	$(EDGEVLM) build --target host --jobs $(JOBS)

# The android-arm64 bundle (static, armv8.2-a+dotprod+fp16) runs on the fake phone under qemu in tests.
native-cross: venv
	$(EDGEVLM) build --target android-arm64 --jobs $(JOBS)

# ctest (C++ kernels), then the main job as a smoke run that also benches the tiny model on this host and
# prints a report against the committed baseline (informational: host noise never fails it), then pytest.
test: setup native-cross
	ctest --test-dir build/host --output-on-failure
	$(EDGEVLM) demo --out build/ci-demo
	$(VPY) -m pytest

demo: setup
	$(EDGEVLM) demo

# Each comparison runs its anchor side by side and writes JSON + Markdown under benchmarks/results/.
# The real-shape checkpoints are synthesized once into build/ (≈3.4 GB each; the 32k tokenizer ≈4 min once).
BENCHMARKS := ldp vision decode convert e2e serve report_noise lab_scale arm_cost arm_threads
bench: setup
	@for b in $(BENCHMARKS); do echo "== benchmarks.$$b"; $(VPY) -m benchmarks.$$b || exit 1; done

clean:
	rm -rf demo-out .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) build
