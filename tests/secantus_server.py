"""SecantusDB, a MongoDB wire-protocol server on WiredTiger, run as a child process for the tests.

No MongoDB server can be installed on our machines, but ``secantusdb`` (a test extra, GPL-2.0,
never a runtime dependency) can. It runs as a separate process rather than in-process
(``SecantusDBServer``) so that the fault tests can do to it what happens to a real server:
stop it and start it again on the same files, or freeze it with ``SIGSTOP``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymongo
from pymongo.errors import PyMongoError

PACKAGE = "secantusdb"
STARTUP_TIMEOUT_S = 60.0
"""Generous: WiredTiger opens in about a second, but CI machines are shared."""


def available() -> bool:
    """Whether the package is installed (its wheels exist for x86_64 Linux, CPython 3.11–3.13)."""
    return importlib.util.find_spec("secantus") is not None


def version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SecantusServer:
    """One ``secantusd-py`` process on 127.0.0.1.

    ``storage`` is a directory for data that must survive a restart, or ``:memory:``.
    ``--standalone`` makes drivers see a standalone server, like the ``mongo`` service of
    the GitHub CI job, rather than a one-node replica set.
    """

    def __init__(self, storage: Path | str = ":memory:", *, port: int | None = None) -> None:
        self.storage = str(storage)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        # An empty working directory, so that no secantusd.toml lying around is picked up.
        self._cwd = tempfile.TemporaryDirectory(prefix="secantus-cwd-")

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> SecantusServer:
        """Start the server and wait until it answers a ping."""
        command = [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--storage-path", self.storage, "--standalone", "--log-level", "WARNING"]
        self.process = subprocess.Popen(command, cwd=self._cwd.name, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"SecantusDB exited with {self.process.returncode} on start:\n{self.output()}")
            if self.ping(timeout_ms=500):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SecantusDB did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{self.output()}")

    def ping(self, *, timeout_ms: int = 2000) -> bool:
        try:
            with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms) as c:
                c.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def stop(self) -> None:
        """Stop the server the way a service manager does (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, for a server whose data no longer matters: after a SIGSTOP and SIGCONT
        the graceful stop waits for the clients that timed out meanwhile (~20 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> SecantusServer:
        """Stop, then start again on the same port and the same files."""
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """SIGSTOP: the process keeps its socket open but answers nothing (a hung server)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def close(self) -> None:
        self.stop()
        self._log.close()
        with contextlib.suppress(OSError):
            self._cwd.cleanup()

    def __enter__(self) -> SecantusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
