"""A real IMAP server for tests: a private Dovecot on loopback, one per test process.

Each instance has its own config, ``base_dir``, state, log, passwd-file user and Maildir in a temporary directory, and
listens with plaintext IMAP (no TLS, plaintext auth allowed) on 127.0.0.1 on a port of its own. It runs in the
foreground (``dovecot -F``) as a child of the test process and dies with it. Dovecot comes from Debian's
``dovecot-imapd``, installed on first use when missing (see :func:`ensure_dovecot`).

Fixtures: ``imap_server`` (one running server per test process) and ``imap`` (that server, running, INBOX empty).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest

from tests.support.ports import free_port

INSTALL = [
    "apt-get",
    "install",
    "-y",
    "--no-install-recommends",
    "-o",
    "DPkg::Lock::Timeout=300",
    "dovecot-imapd",
]
# Why the last install attempt failed (shown in the skip or failure message).
install_error: str = ""

_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def die_with_parent() -> None:
    """``preexec_fn`` for server subprocesses: SIGTERM the child when the test process dies, even by SIGKILL."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_dovecot() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


@cache
def ensure_dovecot() -> str | None:
    """The dovecot binary; Debian's ``dovecot-imapd`` is installed first when it is missing (as root, with apt-get;
    ``apt-get update`` only if the install fails). Its own system service is not started. None if it cannot be had;
    :data:`install_error` then says why. Test processes install one at a time (a file lock)."""
    global install_error
    if found := find_dovecot():
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        install_error = "dovecot is not installed and apt-get cannot be run here (not root, or no apt-get)"
        return None
    lock_path = Path(tempfile.gettempdir()) / "leadflow-dovecot-install.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers all get here at once
        if found := find_dovecot():
            return found
        with _services_held_back():
            ok, output = _apt(INSTALL)
            if not ok:
                updated, update_output = _apt(["apt-get", "update"])
                ok, output = _apt(INSTALL) if updated else (False, update_output)
    if not ok:
        install_error = output[-2000:]
        return None
    return find_dovecot()


def _apt(command: list[str]) -> tuple[bool, str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"{' '.join(command)}: {error}"
    return done.returncode == 0, done.stdout + done.stderr


@contextlib.contextmanager
def _services_held_back() -> Iterator[None]:
    """Keep the package's system service from starting (it would listen on 143/993): a ``policy-rc.d`` that denies
    every start, for the duration of the install, unless the machine has one already."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# leadflow tests: installing dovecot-imapd; do not start services\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")


class ImapServer:
    """A private Dovecot instance. Attributes ``host``, ``port`` (fixed at the first start and kept by restarts),
    ``user``, ``password``; ``maildir`` is the user's INBOX on disk. The helpers talk real IMAP (stdlib
    :mod:`imaplib`), folder names are plain ASCII."""

    def __init__(
        self,
        binary: str,
        user: str = "recordings@example.com",
        password: str = "imap-test-password",
        host: str = "127.0.0.1",
    ) -> None:
        self.binary = binary
        self.host = host
        self.port = 0
        self.user = user
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="leadflow-imap-"))
        self.root.chmod(0o755)  # Dovecot's unprivileged auth and mail processes must reach into it
        self.home = self.root / "home"
        self.maildir = self.home / "Maildir"
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        # Said in the greeting, so a readiness probe can tell our server from whatever else got the port.
        self._token = secrets.token_hex(6)
        self._prepare()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """The master process is alive (checked without reaping it, see :meth:`_kill_group`)."""
        if self.process is None or self.process.returncode is not None:
            return False
        try:
            return os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def start(self, timeout: float = 10.0) -> None:
        """Start (no-op when running) and wait until the port answers with our IMAP greeting. The first start picks a
        free port, and another one if that was taken meanwhile; later starts reuse it."""
        if self.running:
            return
        self._kill_group()  # whatever is left of an instance that died
        fixed = bool(self.port)
        for _attempt in range(1 if fixed else 5):
            if not fixed:
                self.port = free_port(self.host)
            self._write_config()
            self.log.write_bytes(b"")
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [self.binary, "-F", "-c", str(self.config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            if self._wait_ready(timeout):
                return
            self._kill_group()
            if not fixed and b"in use" in self.log.read_bytes():
                continue
            break
        raise RuntimeError(f"dovecot did not start on {self.host}:{self.port}; its log:\n{self.log_tail()}")

    def stop(self, graceful: bool = False, timeout: float = 10.0) -> None:
        """Stop the server; returns once the port no longer answers. By default every process of the instance is
        killed at once (as in a crash: open connections just drop). ``graceful=True`` sends SIGTERM instead: Dovecot
        says ``* BYE Server shutting down.`` to logged-in clients, and takes about a second."""
        process = self.process
        if process is None:
            return
        if graceful and self.running:
            process.terminate()
            deadline = time.monotonic() + timeout
            while self.running and time.monotonic() < deadline:
                time.sleep(0.01)
        self._kill_group()
        deadline = time.monotonic() + timeout
        while self._answers() and time.monotonic() < deadline:
            time.sleep(0.01)

    def restart(self, graceful: bool = False) -> None:
        """Stop and start again on the same port; mail, UIDs and UIDVALIDITY are kept."""
        self.stop(graceful=graceful)
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    # -- mailbox helpers ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in stdlib IMAP client (logged out afterwards)."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(
        self, raw_message: bytes, folder: str = "INBOX", flags: str = "", date_time: datetime | float | None = None
    ) -> int:
        """APPEND a message (the folder is created if needed); returns its UID. ``flags`` like ``"(\\\\Seen)"``;
        ``date_time`` sets the INTERNALDATE (an aware datetime or a Unix time; default now), which SEARCH SINCE uses."""
        with self.client() as conn:
            if folder.upper() != "INBOX":
                conn.create(_quote(folder))  # NO when it exists: fine
            status, data = conn.append(_quote(folder), flags or None, date_time, raw_message)
            if status != "OK":
                raise RuntimeError(f"APPEND to {folder} failed: {data!r}")
            match = _APPENDUID.search(data[0] or b"")
            assert match, data
            return int(match.group(1))

    def folders(self) -> list[str]:
        with self.client() as conn:
            return self._folders(conn)

    def clear(self) -> None:
        """Delete every message in INBOX (and expunge) and delete every other folder."""
        with self.client() as conn:
            _, data = conn.select("INBOX")
            if int(data[0] or 0):
                conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                conn.expunge()
            conn.close()
            # Children before parents.
            for name in sorted((f for f in self._folders(conn) if f.upper() != "INBOX"), key=len, reverse=True):
                conn.delete(_quote(name))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        return self._status(folder, "UIDVALIDITY")

    def count(self, folder: str = "INBOX") -> int:
        return self._status(folder, "MESSAGES")

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as conn:
            conn.select(_quote(folder), readonly=True)
            _, data = conn.uid("SEARCH", "ALL")
            return [int(uid) for uid in (data[0] or b"").split()]

    def messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> raw message (``BODY.PEEK[]``: reading does not set ``\\Seen``)."""
        result: dict[int, bytes] = {}
        with self.client() as conn:
            _, data = conn.select(_quote(folder), readonly=True)
            if not int(data[0] or 0):
                return result
            _, fetched = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
            for item in fetched:
                if isinstance(item, tuple):
                    uid = re.search(rb"UID (\d+)", item[0])
                    assert uid, item[0]
                    result[int(uid.group(1))] = item[1]
        return result

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags, e.g. ``{3: {"\\\\Seen"}}``."""
        result: dict[int, set[str]] = {}
        with self.client() as conn:
            _, data = conn.select(_quote(folder), readonly=True)
            if not int(data[0] or 0):
                return result
            _, fetched = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            for line in fetched:
                uid = re.search(rb"UID (\d+)", line) if isinstance(line, bytes) else None
                found = re.search(rb"FLAGS \(([^)]*)\)", line) if isinstance(line, bytes) else None
                if uid and found:
                    result[int(uid.group(1))] = {flag.decode() for flag in found.group(1).split()}
        return result

    def reset_uidvalidity(self, keep_messages: bool = True) -> int:
        """Make INBOX's UIDVALIDITY change, as when a mailbox is recreated or moved to another server; returns the new
        value. The server is stopped, the UID list and indexes of INBOX are removed and it is started again on its
        port, so open connections drop and Dovecot rebuilds INBOX: the messages kept (all of them, or none with
        ``keep_messages=False``) get new UIDs from 1 under a new UIDVALIDITY."""
        self.start()
        before = self.uidvalidity()
        if not keep_messages:
            self.clear()
        self.stop()
        doomed = [self.maildir / "dovecot-uidlist", *self.maildir.glob("dovecot.index*")]
        doomed += self.maildir.glob("dovecot.list.index*")
        for path in doomed:
            path.unlink(missing_ok=True)
        self.start()
        after = self.uidvalidity()
        if after == before:
            raise RuntimeError(f"UIDVALIDITY of INBOX did not change ({before})")
        return after

    # -- internals ---------------------------------------------------------------------------------------------

    def _status(self, folder: str, item: str) -> int:
        with self.client() as conn:
            status, data = conn.status(_quote(folder), f"({item})")
            match = re.search(rf"{item} (\d+)".encode(), data[0] or b"") if status == "OK" else None
            if not match:
                raise RuntimeError(f"STATUS {folder} ({item}) failed: {data!r}")
            return int(match.group(1))

    @staticmethod
    def _folders(conn: imaplib.IMAP4) -> list[str]:
        _, data = conn.list()
        names = []
        for line in data:
            match = _LIST_LINE.match(line) if isinstance(line, bytes) else None
            if match:
                name = match.group("name").decode()
                if name.startswith('"'):
                    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                names.append(name)
        return names

    def _prepare(self) -> None:
        for sub in ("base", "state", "home"):
            (self.root / sub).mkdir()
        if os.geteuid() == 0:
            # Mail is never accessed as root (Dovecot refuses): the user's files belong to "nobody".
            owner = pwd.getpwnam("nobody")
            uid, gid = owner.pw_uid, owner.pw_gid
            os.chown(self.home, uid, gid)
        else:
            uid, gid = os.getuid(), os.getgid()
        passwd = self.root / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}:{uid}:{gid}::{self.home}::\n")
        passwd.chmod(0o644)

    def _write_config(self) -> None:
        if os.geteuid() == 0:
            login_user = _first_user("dovenull", "nobody")
            internal_user = _first_user("dovecot", "nobody")
            internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
            chroot = ""
        else:  # a rootless instance: everything runs as the current user, without chroot
            login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
            chroot = "  chroot =\n"
        self.config.write_text(
            f"""# Private Dovecot for the Leadflow tests (tests/support/imap.py). Not the system's.
base_dir = {self.root}/base
state_dir = {self.root}/state
instance_name = leadflow-test-{self.port}
log_path = {self.log}
protocols = imap
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_greeting = Leadflow test IMAP {self._token} ready.
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.root}/passwd
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# No per-IP penalty after failed logins (2 s, doubling up to 15 s, slowing down even the next good login): the auth
# process cannot open anvil's penalty socket, so it leaves penalties off. A failed login still takes about 0.5 s.
service anvil {{
{chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  # The default is 10 connections per user and IP; tests open many.
  mail_max_userip_connections = 1000
}}
"""
        )

    def _answers(self) -> bytes | None:
        """The greeting on the port, or None when nothing answers."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as conn:
                return conn.recv(4096)
        except OSError:
            return None

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        expected = f"Leadflow test IMAP {self._token} ready.".encode()
        while time.monotonic() < deadline:
            if not self.running:
                return False
            greeting = self._answers()
            if greeting and greeting.startswith(b"* OK") and expected in greeting:
                return True
            time.sleep(0.01)
        return False

    def _kill_group(self) -> None:
        """SIGKILL whatever of this instance is left: its processes share the master's process group. The master is
        reaped only after that, so its pid (the group's id) cannot have gone to another process meanwhile."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _first_user(*names: str) -> str:
    for name in names:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError(f"none of the users {names} exists")


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    """One running private Dovecot per test process (each pytest-xdist worker has its own, on its own port). Skipped
    when Dovecot cannot be installed, a failure instead when ``LEADFLOW_TEST_REQUIRE_SERVICES`` is set."""
    binary = ensure_dovecot()
    if binary is None:
        reason = f"needs Dovecot (Debian's dovecot-imapd could not be installed: {install_error.strip()})"
        if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = ImapServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def imap(imap_server: ImapServer) -> ImapServer:
    """The session's server, started again if a test stopped it, with an empty INBOX and no other folder."""
    imap_server.start()
    imap_server.clear()
    return imap_server
