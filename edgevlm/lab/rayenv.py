"""Ray, imported on demand, kept on loopback when asked.

Ray maps a node address of 127.0.0.1 to the machine's outward address (``services.resolve_ip_for_localhost``),
so a lab on one machine would still listen on the outward interface. ``keep_loopback()`` makes that mapping
the identity in this process: ``ray start`` (run in-process by ``edgevlm.lab.raystart``) and the driver's
``ray.init`` then bind and dial 127.0.0.1 only.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

from edgevlm.errors import LabError

RAY_NAMESPACE = "edgevlm-lab"
AUTH_MODE, AUTH_TOKEN_PATH, AUTH_TOKEN = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN"
LOOPBACK = "127.0.0.1"  # where a node listens unless told otherwise (--listen)


def auth_env(token_file: Path | None) -> dict[str, str]:
    """The environment that turns Ray's token authentication on with the token in TOKEN_FILE (Ray reads it
    itself: the token never appears on a command line, where every user of the host could read it)."""
    if token_file is None:
        return {}
    try:
        ok = bool(Path(token_file).read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"cannot read the lab's token file {token_file} ({getattr(exc, 'strerror', None) or exc})",
                       hint="write one with `ray get-auth-token --generate` (~/.ray/auth_token) or any secret") \
            from None
    if not ok:
        raise LabError(f"the lab's token file {token_file} is empty", hint="put the shared secret in it")
    return {AUTH_MODE: "token", AUTH_TOKEN_PATH: str(Path(token_file).resolve())}


def auth_enabled(env: dict[str, str]) -> bool:
    """Whether Ray will require the token: RAY_AUTH_MODE=token, or (mode unset) a token Ray finds on its own,
    which `ray start` then turns on by itself."""
    mode = env.get(AUTH_MODE, "").strip().lower()
    if mode:
        return mode == "token"
    return bool(env.get(AUTH_TOKEN) or env.get(AUTH_TOKEN_PATH) or (Path.home() / ".ray" / "auth_token").is_file())


def is_loopback(address: str) -> bool:
    host = address.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def use_token(token_file: Path | None) -> None:
    """A driver (lab run / status) that dials a lab with token authentication: Ray reads the token from here."""
    os.environ.update(auth_env(token_file))


def import_ray():
    try:
        import ray  # lazy: ray, lab only
    except ImportError:
        raise LabError("the device lab needs Ray", hint="pip install 'edgevlm[lab]'") from None
    return ray


def keep_loopback() -> None:
    import ray._private.services as services  # lazy: ray, lab only

    services.resolve_ip_for_localhost = lambda host: host


def connect(address: str):
    """``ray.init`` to the lab at ADDRESS (host:port) as a driver; a clear error when nobody answers."""
    _match_nodes_auth()
    ray = import_ray()
    _reachable(address)
    if is_loopback(address.rpartition(":")[0]):
        keep_loopback()
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, namespace=RAY_NAMESPACE, logging_level="ERROR", log_to_driver=False,
                 configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise LabError(f"no lab at {address} ({(str(exc).strip().splitlines() or [type(exc).__name__])[0]})",
                       hint="start one with `edgevlm lab head`, or pass the address it printed") from None
    except Exception as exc:  # ray.exceptions.AuthenticationError and kin: the head refused us
        if type(exc).__name__ != "AuthenticationError":
            raise
        raise LabError(f"the lab at {address} refused this driver's token ({str(exc).splitlines()[0][:120]})",
                       hint="pass --auth-token FILE with the lab's token (or RAY_AUTH_MODE=token and its file)") \
            from None
    return ray


def _match_nodes_auth() -> None:
    """`ray start` turns token authentication on by itself when it finds a token (~/.ray/auth_token) and no
    RAY_AUTH_MODE is set; ray.init as a driver does not, and that lab would refuse it. Do what the nodes did.
    Ray reads the mode into its config once: refreshed here if ray was imported already (as Ray itself does)."""

    if AUTH_MODE in os.environ or not auth_enabled(dict(os.environ)):
        return
    os.environ[AUTH_MODE] = "token"
    if "ray" in sys.modules:
        from ray._raylet import Config  # lazy: ray, lab only

        Config.initialize("")


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """A TCP connect to the head first: ray.init would retry an address nobody listens on for minutes."""

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise LabError(f"lab address {address!r} is not HOST:PORT", hint="e.g. 127.0.0.1:6379")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise LabError(f"no lab at {address} ({exc.strerror or exc})",
                       hint="start one with `edgevlm lab head`, or pass the address it printed") from None
