"""The ssh transport: the OpenSSH `ssh` client, key authentication only (BatchMode: never a password prompt).

Files travel over the same ssh channel (`cat > tmp && mv tmp dest` on the far side) so there is one client, one
set of options, and remote names are quoted by shlex like everything else.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from edgevlm.device.remote import RemoteShellTransport
from edgevlm.errors import DeviceError


class SshTransport(RemoteShellTransport):
    kind = "ssh"

    def __init__(self, host: str, *, port: int = 22, user: str = "", identity_file: str = "",
                 known_hosts: str = "", extra_options: tuple[str, ...] = (), default_timeout: float = 600.0,
                 connect_timeout: int = 10):
        if not host:
            raise DeviceError("ssh transport needs a host", hint="set [ssh].host in the profile or pass --host")
        super().__init__(f"{user + '@' if user else ''}{host}:{port}", default_timeout=default_timeout)
        self.host, self.port, self.user = host, port, user
        self.options = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}",
                        "-o", "StrictHostKeyChecking=accept-new", "-o", "LogLevel=ERROR", "-p", str(port)]
        if identity_file:
            self.options += ["-i", str(Path(identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
        if known_hosts:
            self.options += ["-o", f"UserKnownHostsFile={known_hosts}"]
        for option in extra_options:
            self.options += ["-o", option]

    def _ssh(self, line: str) -> list[str]:
        ssh = shutil.which("ssh")
        if ssh is None:
            raise DeviceError("`ssh` is not installed", hint="run `make setup` (Debian package openssh-client)")
        target = f"{self.user}@{self.host}" if self.user else self.host
        return [ssh, *self.options, "--", target, line]

    def _client(self, line: str) -> list[str]:
        return self._ssh(line)

    def tunnel_argv(self, local_port: int, remote_port: int) -> list[str]:
        """argv of an `ssh -N -L` tunnel from 127.0.0.1:local_port here to the device's loopback remote_port,
        with the same options (key, known hosts, port) as every other command; it fails rather than run without
        the forward (ExitOnForwardFailure)."""
        argv = self._ssh("")[:-1]                      # [ssh, options..., "--", target]
        target = argv.pop()
        argv.pop()                                     # "--"
        return [*argv, "-N", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=15",
                "-L", f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}", "--", target]

    def _push_file(self, local: Path, remote: str, timeout: float) -> None:
        tmp = shlex.quote(remote + ".edgevlm-partial")
        line = f"cat > {tmp} && mv -f {tmp} {shlex.quote(remote)} || {{ rc=$?; rm -f {tmp}; exit $rc; }}"
        with open(local, "rb") as fh:
            self._checked_copy(self._ssh(line), f"pushing {local.name}", timeout, stdin=fh)

    def _pull_file(self, remote: str, local: Path, timeout: float) -> None:
        with open(local, "wb") as fh:
            try:
                proc = subprocess.run(self._ssh(f"cat {shlex.quote(remote)}"), stdout=fh, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise DeviceError(f"{self.name}: pulling {remote} timed out after {timeout:g} s") from None
        if proc.returncode != 0:
            raise self.link_error(f"pulling {remote}", proc.stderr.decode(errors="replace"))
