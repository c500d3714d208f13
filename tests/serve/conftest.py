"""Fixtures of the serve tests: the device stand-ins of tests/devices (the fake phone behind the real adb
client, a real sshd on 127.0.0.1) are reused as they are."""
from tests.devices.conftest import adb_server, jetson, phone  # noqa: F401  (pytest fixtures)
