#!/bin/sh
# edgevlm preflight probe: what a run needs to know about the device, as key=value lines, read before anything
# is pushed. Every probe is optional (Android toybox/mksh, Jetson L4T, plain Linux); Python does the parsing.
# Usage: sh -c "$(cat preflight.sh)" preflight WORKDIR
w=${1:-.}
echo "machine=$(uname -m 2>/dev/null)"
echo "online=$(cat /sys/devices/system/cpu/online 2>/dev/null)"
for d in /sys/devices/system/cpu/cpu[0-9]*; do
  [ -d "$d" ] || continue
  echo "cpu${d##*/cpu}=$(cat "$d/cpufreq/cpuinfo_max_freq" 2>/dev/null):$(cat "$d/cpu_capacity" 2>/dev/null)"
done
echo "features=$(grep -m1 '^Features' /proc/cpuinfo 2>/dev/null | cut -d: -f2-)"
echo "cpuinfo_online=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null)"
echo "meminfo=$(grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>/dev/null | tr -s ' ' | tr '\n' ' ')"
# free space where the workdir is (or would be created): its nearest existing ancestor
case "$w" in "~"|"~/"*) w="$HOME${w#\~}";; esac
while [ ! -d "$w" ] && [ "$w" != "/" ] && [ "$w" != "." ]; do w=$(dirname "$w"); done
echo "df=$(df -k "$w" 2>/dev/null | tail -n 1)"
for z in /sys/class/thermal/thermal_zone*; do
  [ -r "$z/temp" ] && echo "zone=$z/temp:$(cat "$z/type" 2>/dev/null):$(cat "$z/temp" 2>/dev/null)"
done
[ -r /etc/nv_tegra_release ] && echo "l4t=$(head -n1 /etc/nv_tegra_release)"
for v in /usr/local/cuda/version.json /usr/local/cuda/version.txt; do
  [ -r "$v" ] && echo "cuda=$(grep -m1 -E '"version"|CUDA Version' "$v" | tr -d '",' | sed 's/.*[:n] *//')" && break
done
true
