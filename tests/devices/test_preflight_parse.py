"""The preflight probe's output parsed and judged without a device: a Jetson's L4T / CUDA lines, big cores
found by cpu_capacity where max frequencies tie, and the choices for odd online lists."""
from __future__ import annotations

import pytest

from edgevlm.device import preflight
from edgevlm.device.profiles import load_profile
from edgevlm.errors import DeviceError

# what devices/helpers/preflight.sh prints on a Jetson AGX Orin (12 cores, cores 8-11 offline in a low nvpmodel)
JETSON = """machine=aarch64
online=0-7
cpu0=2201600:1024
cpu1=2201600:1024
cpu7=2201600:1024
features= fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
meminfo=MemTotal: 31944196 kB MemAvailable: 28110312 kB
df=/dev/mmcblk0p1 57225328 21054120 33219636 39% /
zone=/sys/devices/virtual/thermal/thermal_zone0/temp:cpu-thermal:41500
zone=/sys/devices/virtual/thermal/thermal_zone1/temp:gpu-thermal:40000
l4t=# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023
cuda=12.2.140
"""


def test_jetson_facts():
    facts = preflight.parse_facts(JETSON)
    assert facts.machine == "aarch64" and facts.online == tuple(range(8))
    assert facts.mem_available_bytes == 28110312 * 1024 and facts.disk_free_bytes == 33219636 * 1024
    assert facts.cuda == "12.2.140" and facts.l4t.startswith("# R35 (release), REVISION: 4.1")
    assert facts.zones["/sys/devices/virtual/thermal/thermal_zone0/temp"] == "cpu-thermal"
    result = preflight.check(None, load_profile("orin"), facts=facts)
    assert (result.threads, result.cpu_mask, result.warnings) == (6, "", ())
    assert result.zones == ("/sys/devices/virtual/thermal/thermal_zone0/temp",)   # the profile's zone that exists


def test_big_cores_by_capacity_when_frequencies_tie():
    facts = preflight.parse_facts("online=0-3\ncpu0=2000000:300\ncpu1=2000000:300\ncpu2=2000000:1024\n"
                                  "cpu3=2000000:1024\n")
    assert facts.fastest(2) == (2, 3)


@pytest.mark.parametrize("text, cpus", [("0", (0,)), ("0-2,4,6-7\n", (0, 1, 2, 4, 6, 7)), ("", ())])
def test_cpu_lists(text, cpus):
    assert preflight.parse_cpu_list(text) == cpus


def test_unreadable_cpu_list_is_a_device_error():
    with pytest.raises(DeviceError, match="cannot read the online CPU list"):
        preflight.parse_cpu_list("0-x")


def test_no_thermal_zones_warns_once():
    facts = preflight.parse_facts("machine=x86_64\nonline=0-1\n")
    result = preflight.check(None, load_profile("sd888"), facts=facts)
    assert result.zones == () and sum("no thermal zones" in w for w in result.warnings) == 1
