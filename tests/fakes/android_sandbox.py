"""The fake phone's file system and shell: a Snapdragon 888 Android device in a folder.

The sandbox folder is the device's root. Commands run as ``chroot SANDBOX /bin/sh -c CMD`` inside a private
mount namespace (``unshare -m``) where the host's /usr, /etc, /dev and /proc are bind-mounted in and
/proc/cpuinfo + /proc/meminfo are replaced by the phone's; /sys is the phone's (plain files: cpufreq, thermal
zones). /data/local/tmp is a real folder. `getprop` and toybox's `taskset` are small scripts in /system/bin.
aarch64 ELF binaries run under ``qemu-aarch64-static -cpu <cpu>`` via an LD_PRELOAD exec shim
(qemu_exec_shim.c), because registering binfmt_misc would change the whole machine.

As root the namespace is a plain `unshare -m`; as another user `unshare -r -m` (a user namespace mapping that
user to root), where the kernel allows unprivileged user namespaces; elsewhere the fake-phone tests skip, saying
why (tests/devices/conftest.py).

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
# toybox taskset MASK CMD...: the mask is checked against this phone's ONLINE CPUs (sched_setaffinity refuses a
# mask with no online CPU, as the kernel does); the host cannot pin to them, so the command then runs unpinned.
mask=$1; shift
case "$mask" in ''|*[!0-9a-fA-F]*) echo "taskset: bad mask '$mask'" >&2; exit 1;; esac
online=0
for r in $(tr ',' ' ' < /sys/devices/system/cpu/online); do
  lo=${r%-*}; hi=${r#*-}; i=$lo
  while [ $i -le $hi ]; do online=$(( online | (1 << i) )); i=$((i + 1)); done
done
if [ $(( 0x$mask & online )) -eq 0 ]; then
  echo "taskset: failed to set pid $$'s affinity: Invalid argument" >&2; exit 1
fi
exec "$@"
"""

UNAME = """#!/bin/sh
# toybox uname on the phone's arm64 kernel (the host's uname would say x86_64)
flags=""
for a in "$@"; do flags="$flags${a#-}"; done
case "$flags" in *a*) echo "Linux localhost 5.4.289-qgki #1 SMP PREEMPT aarch64 Toybox"; exit 0;; esac
[ -n "$flags" ] || flags=s
out=""
case "$flags" in *s*) out="$out Linux";; esac
case "$flags" in *n*) out="$out localhost";; esac
case "$flags" in *r*) out="$out 5.4.289-qgki";; esac
case "$flags" in *m*) out="$out aarch64";; esac
echo "${out# }"
"""

DF = """#!/bin/sh
# toybox df -k with the free space this fake phone is set to (FakeAdbDevice.set_free_space)
echo "Filesystem     1K-blocks    Used Available Use% Mounted on"
echo "/dev/block/dm-5 115000000 1000000 $(cat /system/fake-df-free-kb) 1% /data"
"""


def cpuinfo(online: tuple[int, ...] = tuple(range(8)), features: str = FEATURES) -> str:
    """/proc/cpuinfo as the kernel writes it: one block per ONLINE cpu."""
    blocks, cpu = [], 0
    for count, part, _ in CLUSTERS:
        for _ in range(count):
            if cpu in online:
                blocks.append(f"processor\t: {cpu}\nBogoMIPS\t: 38.40\nFeatures\t: {features}\n"
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
    (root / "system/fake-df-free-kb").write_text("50000000\n")
    for name, text in (("getprop", GETPROP), ("taskset", TASKSET), ("df", DF), ("uname", UNAME)):
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


def set_cpus(root: Path, online: tuple[int, ...], features: str) -> None:
    """Take cores offline (hot-plugged / thermally parked) and change the CPU features, as the device shows them:
    /sys/devices/system/cpu/online and cpuN/online, and /proc/cpuinfo listing only online cores."""
    cpus = root / "sys/devices/system/cpu"
    (cpus / "online").write_text(_ranges(online) + "\n")
    for cpu in range(sum(c for c, _, _ in CLUSTERS)):
        (cpus / f"cpu{cpu}" / "online").write_text("1\n" if cpu in online else "0\n")
    (root / "system/fake-proc/cpuinfo").write_text(cpuinfo(online, features))


def _ranges(cpus: tuple[int, ...]) -> str:
    parts, start = [], None
    for i, cpu in enumerate(sorted(cpus)):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or sorted(cpus)[i + 1] != cpu + 1:
            parts.append(f"{start}-{cpu}" if cpu != start else str(cpu))
            start = None
    return ",".join(parts)


def compile_shim(out_dir: Path) -> Path:
    out = out_dir / "libfakeqemu.so"
    if not out.exists():
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(HERE / "qemu_exec_shim.c"), "-ldl"],
                       check=True, capture_output=True)
    return out


def unshare_argv() -> list[str]:
    """A private mount namespace: as root directly; as another user inside a user namespace where that user is
    mapped to root (unprivileged user namespaces), which allows the bind mounts and the chroot."""
    base = ["unshare", "-m", "--propagation", "private"]
    return base if os.geteuid() == 0 else ["unshare", "-r", *base[1:]]


def sandbox_unavailable() -> str | None:
    """Why the fake phone cannot run here (None when it can)."""
    try:
        proc = subprocess.run([*unshare_argv(), "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if proc.returncode != 0:
        return (f"the fake phone needs root or unprivileged user namespaces for its mount namespace + chroot "
                f"(`{' '.join(unshare_argv())} true`: {proc.stderr.strip()[:200]})")
    return None


def spawn(root: Path, command: str, *, cpu: str, stdin=subprocess.PIPE) -> subprocess.Popen:
    """Start `command` in the phone's shell; stdout/stderr are pipes, the process leads its own session."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/", "TMPDIR": "/data/local/tmp", "ANDROID_DATA": "/data",
           "ANDROID_ROOT": "/system", "FAKE_QEMU_CPU": cpu}
    argv = [*unshare_argv(), "/bin/sh", "-c", NAMESPACE_SCRIPT, "fake-adbd", str(root), command]
    return subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
