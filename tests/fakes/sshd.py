"""A real OpenSSH server on 127.0.0.1 for tests: generated host and user keys, no system config touched.

Runs /usr/sbin/sshd in the foreground (-D) with its own config file in a temp folder, public-key auth only, as
the current user (root in CI/containers: PermitRootLogin prohibit-password). It is the "Jetson" for the ssh
transport tests — a CPU-only stand-in reached by exactly the code path a real Jetson is.
"""
from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    user: str
    identity_file: Path
    known_hosts: Path
    home: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sshd did not start listening")


def login_unavailable() -> str | None:
    """Why ssh cannot run commands as the current user (None when it can): sshd runs commands through the
    account's login shell, which for system accounts such as `nobody` is nologin."""
    import pwd

    shell = pwd.getpwuid(os.getuid()).pw_shell
    if Path(shell).name in ("nologin", "false"):
        return f"ssh tests need a login shell; user {getpass.getuser()}'s shell is {shell}"
    return None


def start_sshd(workdir: Path, *, home: Path | None = None) -> tuple[subprocess.Popen, SshServer]:
    """`home`: the sessions' $HOME (sshd's SetEnv), so a profile's "~/edgevlm" lands in a test folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    host_key, user_key = workdir / "host_ed25519", workdir / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(user_key.with_suffix(".pub").read_text())
    os.chmod(authorized, 0o600)
    port = _free_port()
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text()}")
    # Without PAM, sshd reads a '*' or '!' password (an account created without one, as CI users are) as a locked
    # account and refuses even key logins. As root (the CI containers here) UsePAM no works as it always did; as
    # another user PAM's account check is used (checked as `nobody`: key accepted with PAM, locked without).
    use_pam = "no" if os.geteuid() == 0 else "yes"
    config = workdir / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"AuthorizedKeysFile {authorized}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password", "StrictModes no", f"UsePAM {use_pam}", f"PidFile {workdir / 'sshd.pid'}",
        "Subsystem sftp internal-sftp", "LogLevel ERROR", *([f"SetEnv HOME={home}"] if home else []), "",
    ]))
    if home:
        home.mkdir(parents=True, exist_ok=True)
    # sshd refuses to start without its privilege-separation directory (as root; a non-root sshd does not use it)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_listening(port, proc)
    return proc, SshServer("127.0.0.1", port, getpass.getuser(), user_key, known_hosts,
                           home or Path(os.path.expanduser("~")))
