#!/bin/sh
# Print this device's fingerprint as key=value lines; every probe is optional (Android, Jetson, plain Linux).
# Run by `edgevlm devices` through any transport: `sh -s < fingerprint.sh` or pushed and run.
prop() { command -v getprop >/dev/null 2>&1 && getprop "$1" 2>/dev/null; }
echo "kernel=$(uname -sr 2>/dev/null)"
echo "arch=$(uname -m 2>/dev/null)"
echo "android_model=$(prop ro.product.model)"
echo "android_manufacturer=$(prop ro.product.manufacturer)"
echo "android_soc=$(prop ro.soc.model)"
echo "android_platform=$(prop ro.board.platform)"
echo "android_release=$(prop ro.build.version.release)"
echo "android_sdk=$(prop ro.build.version.sdk)"
[ -r /etc/nv_tegra_release ] && echo "l4t=$(head -n1 /etc/nv_tegra_release)"
[ -r /proc/device-tree/model ] && echo "dt_model=$(tr -d '\0' < /proc/device-tree/model)"
[ -r /etc/os-release ] && echo "os=$(. /etc/os-release; echo "$PRETTY_NAME")"
echo "cpu_model=$(grep -m1 -E '^(model name|Hardware)' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "cpu_count=$(grep -c '^processor' /proc/cpuinfo)"
echo "cpu_features=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "cores_online=$(cat /sys/devices/system/cpu/online 2>/dev/null)"
echo "cpu_parts=$(grep '^CPU part' /proc/cpuinfo | awk '{print $NF}' | tr '\n' ' ')"
maxf=""
for d in /sys/devices/system/cpu/cpu[0-9]*; do
  f="$d/cpufreq/cpuinfo_max_freq"
  [ -r "$f" ] && maxf="$maxf${d##*/cpu}:$(cat "$f") "
done
echo "cpu_max_khz=$maxf"
# every cluster has its own policy (on a Snapdragon the big cores may not follow cpu0): the distinct governors
echo "governor=$(cat /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor 2>/dev/null | sort -u | tr '\n' ' ')"
echo "mem_total_kb=$(grep -m1 MemTotal /proc/meminfo | awk '{print $2}')"
