"""Devices: TOML profiles, one Transport interface (local, adb, ssh), fingerprints."""
