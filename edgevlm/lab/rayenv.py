"""Ray, imported on demand, kept on loopback when asked.

Ray maps a node address of 127.0.0.1 to the machine's outward address (``services.resolve_ip_for_localhost``),
so a lab on one machine would still listen on the outward interface. ``keep_loopback()`` makes that mapping
the identity in this process: ``ray start`` (run in-process by ``edgevlm.lab.raystart``) and the driver's
``ray.init`` then bind and dial 127.0.0.1 only.
"""
from __future__ import annotations

from edgevlm.errors import LabError

RAY_NAMESPACE = "edgevlm-lab"


def import_ray():
    try:
        import ray
    except ImportError:
        raise LabError("the device lab needs Ray", hint="pip install 'edgevlm[lab]'") from None
    return ray


def keep_loopback() -> None:
    import ray._private.services as services

    services.resolve_ip_for_localhost = lambda host: host


def connect(address: str):
    """``ray.init`` to the lab at ADDRESS (host:port) as a driver; a clear error when nobody answers."""
    ray = import_ray()
    _reachable(address)
    if address.split(":")[0] in ("127.0.0.1", "localhost"):
        keep_loopback()
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, namespace=RAY_NAMESPACE, logging_level="ERROR", log_to_driver=False,
                 configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise LabError(f"no lab at {address} ({str(exc).splitlines()[0]})",
                       hint="start one with `edgevlm lab head`, or pass the address it printed") from None
    return ray


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """A TCP connect to the head first: ray.init would retry an address nobody listens on for minutes."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise LabError(f"lab address {address!r} is not HOST:PORT", hint="e.g. 127.0.0.1:6379")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise LabError(f"no lab at {address} ({exc.strerror or exc})",
                       hint="start one with `edgevlm lab head`, or pass the address it printed") from None
