"""The fake phone's file system and shell: a Snapdragon 888 Android device in a folder.

The sandbox folder is the device's root. Commands run as ``chroot SANDBOX /bin/sh -c CMD`` inside a private
mount namespace (``unshare -m``) where the host's /usr, /etc, /dev and /proc are bind-mounted in and
/proc/cpuinfo + /proc/meminfo are replaced by the phone's; /sys is the phone's (plain files: cpufreq, thermal
zones). /data/local/tmp is a real folder. `getprop` and toybox's `taskset` are small scripts in /system/bin.
aarch64 ELF binaries run under ``qemu-aarch64-static -cpu <cpu>`` via an LD_PRELOAD exec shim
(qemu_exec_shim.c), because registering binfmt_misc would change the whole machine.

Honest limits: the host has 2 cores, so `taskset f0` checks the mask against the phone's 8 CPUs and then runs
unpinned; qemu is much slower than the phone, so no timing from here means anything.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROPS = {
    "ro.product.model": "SM-G991U",
    "ro.product.manufacturer": "samsung",
    "ro.product.name": "o1quew",
    "ro.product.device": "o1q",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.soc.manufacturer": "QTI",
    "ro.soc.model": "SM8350",
    "ro.board.platform": "lahaina",
    "ro.hardware": "qcom",
    "ro.build.version.release": "13",
    "ro.build.version.sdk": "33",
    "ro.build.fingerprint": "samsung/o1quew/o1q:13/TP1A.220624.014/G991USQS9FWK1:user/release-keys",
}

# (core count, cpu part, max kHz): 4x Cortex-A55, 3x Cortex-A78, 1x Cortex-X1.
CLUSTERS = ((4, "0xd05", 1804800), (3, "0xd41", 2419200), (1, "0xd44", 2841600))
FEATURES = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop "
            "asimddp")
THERMAL_ZONES = ("cpu-1-0-usr", "cpu-1-1-usr")

NAMESPACE_SCRIPT = r"""
set -e
R=$1
mount --rbind /usr "$R/usr"
mount --bind /etc "$R/etc"
mount --rbind /dev "$R/dev"
mount --rbind /proc "$R/proc"
mount --bind "$R/system/fake-proc/cpuinfo" "$R/proc/cpuinfo"
mount --bind "$R/system/fake-proc/meminfo" "$R/proc/meminfo"
exec chroot "$R" /usr/bin/env PATH=/system/bin:/usr/bin:/bin LD_PRELOAD=/system/lib64/libfakeqemu.so \
    /bin/sh -c "$2"
"""

GETPROP = """#!/bin/sh
# toybox getprop: all properties as [key]: [value], or one value
if [ $# -eq 0 ]; then
  while IFS='=' read -r k v; do echo "[$k]: [$v]"; done < /system/build.prop
  exit 0
fi
while IFS='=' read -r k v; do [ "$k" = "$1" ] && { echo "$v"; exit 0; }; done < /system/build.prop
echo "${2:-}"
"""

TASKSET = """#!/bin/sh
# toybox taskset MASK CMD...: the mask is checked against this phone's 8 CPUs; the host cannot pin to them.
mask=$1; shift
case "$mask" in ''|*[!0-9a-fA-F]*) echo "taskset: bad mask '$mask'" >&2; exit 1;; esac
if [ $(( 0x$mask & 0xff )) -eq 0 ]; then echo "taskset: sched_setaffinity: Invalid argument" >&2; exit 1; fi
exec "$@"
"""


def cpuinfo() -> str:
    blocks, cpu = [], 0
    for count, part, _ in CLUSTERS:
        for _ in range(count):
            blocks.append(f"processor\t: {cpu}\nBogoMIPS\t: 38.40\nFeatures\t: {FEATURES}\n"
                          f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\n"
                          f"CPU part\t: {part}\nCPU revision\t: 0\n")
            cpu += 1
    return "\n".join(blocks) + "\nHardware\t: Qualcomm Technologies, Inc SM8350\n"


MEMINFO = "MemTotal:        7707812 kB\nMemFree:          512340 kB\nMemAvailable:    3120440 kB\n"


def build_sandbox(root: Path, shim: Path) -> None:
    """Lay out the phone's root folder (idempotent)."""
    for sub in ("usr", "etc", "dev", "proc", "tmp", "data/local/tmp", "system/bin", "system/lib64",
                "system/fake-proc"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        if not (root / link).is_symlink():
            os.symlink(f"usr/{link}", root / link)
    (root / "system/build.prop").write_text("".join(f"{k}={v}\n" for k, v in PROPS.items()))
    (root / "system/fake-proc/cpuinfo").write_text(cpuinfo())
    (root / "system/fake-proc/meminfo").write_text(MEMINFO)
    for name, text in (("getprop", GETPROP), ("taskset", TASKSET)):
        (root / "system/bin" / name).write_text(text)
        (root / "system/bin" / name).chmod(0o755)
    shutil.copy2(shim, root / "system/lib64/libfakeqemu.so")
    _write_sys(root / "sys")


def _write_sys(sys_root: Path) -> None:
    cpus = sys_root / "devices/system/cpu"
    cpu = 0
    for count, _, khz in CLUSTERS:
        for _ in range(count):
            freq = cpus / f"cpu{cpu}/cpufreq"
            freq.mkdir(parents=True, exist_ok=True)
            (freq / "cpuinfo_max_freq").write_text(f"{khz}\n")
            (freq / "scaling_cur_freq").write_text(f"{khz}\n")
            (freq / "scaling_governor").write_text("schedutil\n")
            cpu += 1
    for name in ("online", "possible", "present"):
        (cpus / name).write_text("0-7\n")
    for i, kind in enumerate(THERMAL_ZONES):
        zone = sys_root / f"class/thermal/thermal_zone{i}"
        zone.mkdir(parents=True, exist_ok=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text("38500\n")


def compile_shim(out_dir: Path) -> Path:
    out = out_dir / "libfakeqemu.so"
    if not out.exists():
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(HERE / "qemu_exec_shim.c"), "-ldl"],
                       check=True, capture_output=True)
    return out


def spawn(root: Path, command: str, *, cpu: str, stdin=subprocess.PIPE) -> subprocess.Popen:
    """Start `command` in the phone's shell; stdout/stderr are pipes, the process leads its own session."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/", "TMPDIR": "/data/local/tmp", "ANDROID_DATA": "/data",
           "ANDROID_ROOT": "/system", "FAKE_QEMU_CPU": cpu}
    argv = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", NAMESPACE_SCRIPT, "fake-adbd",
            str(root), command]
    return subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
