"""A private Dovecot IMAP server for the tests: Debian's dovecot with a configuration of its own.

Nothing of the system's Dovecot is used or touched (no /etc/dovecot, no service): the
configuration, the run and state directories, the log, a self-signed certificate made with
openssl and the Maildirs all live in one temporary folder, and the server listens on two free
loopback ports: IMAP (STARTTLS offered, plaintext login allowed) and IMAPS. Started in the
foreground as a child process, so the tests stop exactly the process they started.

As root the mail is owned by ``nobody`` and the login processes run as Dovecot's own users; as
anyone else, everything runs as that user.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "bounces@example.org"
PASSWORD = "bounce-box-password"


def missing() -> str | None:
    """Why a Dovecot IMAP server cannot be started here, or None if it can."""
    if not os.access(DOVECOT, os.X_OK):
        return "Dovecot is not installed (Debian: apt-get install dovecot-core dovecot-imapd)"
    libexec = subprocess.run([DOVECOT, "config", "-h", "libexec_dir"], capture_output=True,
                             text=True, check=False).stdout.strip() or "/usr/lib/dovecot"
    if not os.access(Path(libexec) / "imap", os.X_OK):
        return "Dovecot's IMAP server is not installed (Debian: apt-get install dovecot-imapd)"
    return None


@dataclass(frozen=True)
class Dovecot:
    imap_port: int  # IMAP, STARTTLS offered
    imaps_port: int  # IMAP over TLS
    cafile: Path  # the self-signed certificate both ports present (for 127.0.0.1)
    maildir: Path  # the test user's Maildir (INBOX)
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    def url(self, scheme: str = "imaps", folder: str = "INBOX") -> str:
        port = self.imaps_port if scheme == "imaps" else self.imap_port
        return f"{scheme}://{self.user.replace('@', '%40')}@{self.host}:{port}/{folder}"


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _version() -> tuple[int, int]:
    said = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=False)
    found = re.match(r"(\d+)\.(\d+)", said.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else (2, 3)


def _config(base: Path, ports: list[int], ids: dict[str, str], users: Path) -> str:
    """dovecot.conf for this instance, in 2.3's syntax or in 2.4's renamed settings."""
    listeners = f"""
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {ports[0]}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ports[1]}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
    common = f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
auth_failure_delay = 0  # a wrong password is answered at once
default_internal_user = {ids['internal']}
default_internal_group = {ids['internal_group']}
default_login_user = {ids['login']}
first_valid_uid = 1
namespace inbox {{
  inbox = yes
  separator = /
}}
"""
    if _version() >= (2, 4):
        return f"""dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
{common}
auth_allow_cleartext = yes
ssl_server_cert_file = {base}/cert.pem
ssl_server_key_file = {base}/key.pem
mail_driver = maildir
mail_path = ~/Maildir
passdb passwd-file {{
  passwd_file_path = {users}
}}
userdb passwd-file {{
  passwd_file_path = {users}
}}
{listeners}"""
    return f"""{common}
disable_plaintext_auth = no
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
{listeners}"""


def _certificate(base: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(base / "key.pem"), "-out", str(base / "cert.pem")],
        check=True, capture_output=True,
    )


def _accounts() -> tuple[int, int, dict[str, str]]:
    """The uid and gid of the mail, and the users the Dovecot processes run as."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        ids = {"internal": "dovecot", "internal_group": "dovecot", "login": "dovenull"}
        return nobody.pw_uid, nobody.pw_gid, ids
    me = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(os.getgid()).gr_name
    return me.pw_uid, me.pw_gid, {"internal": me.pw_name, "internal_group": group,
                                  "login": me.pw_name}


@contextlib.contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """A Dovecot serving one user with an empty Maildir; stopped and removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="mailer-dovecot-"))
    base.chmod(0o755)  # the mail processes run as another user, and must reach the home
    try:
        uid, gid, ids = _accounts()
        home = base / "home"
        for folder in ("cur", "new", "tmp"):
            (home / "Maildir" / folder).mkdir(parents=True)
        for path in (home, *home.rglob("*")):
            os.chown(path, uid, gid)
        users = base / "users"
        users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n", encoding="utf-8")
        users.chmod(0o644)
        _certificate(base)
        ports = _free_ports(2)
        conf = base / "dovecot.conf"
        conf.write_text(_config(base, ports, ids, users), encoding="utf-8")
        server = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for(server, ports, base / "dovecot.log")
            yield Dovecot(ports[0], ports[1], base / "cert.pem", home / "Maildir")
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.stderr:
                server.stderr.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _wait_for(server: subprocess.Popen[bytes], ports: list[int], log: Path) -> None:
    deadline = time.monotonic() + 15
    waiting = list(ports)
    while waiting:
        if server.poll() is not None:
            said = server.stderr.read().decode(errors="replace") if server.stderr else ""
            logged = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"dovecot exited with {server.returncode}: {said}{logged}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{waiting[0]} in 15 s")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", waiting[0])) == 0:
                waiting.pop(0)
                continue
        time.sleep(0.01)
