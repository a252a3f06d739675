"""A throw-away local PostgreSQL server, for the tests and benchmarks of several search workers
sharing one study (``--storage postgresql://...``).  Not used by a search itself.

``LocalPostgres().start()`` runs ``initdb`` into a temporary folder and ``pg_ctl start`` on a
free loopback port (trust authentication, fsync off: for tests only); ``create(db)`` returns
the SQLAlchemy URL of a new database; ``stop()`` stops the server and removes its folder.  As
root it runs the server as the ``postgres`` user, which PostgreSQL requires.  Needs Debian's
``postgresql`` (``/usr/lib/postgresql/*/bin``) and the ``psycopg2`` driver.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """A throw-away PostgreSQL server: ``start()``, ``url(db)``, ``create(db)``, ``stop()``."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise FileNotFoundError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="codesign-pg-"))
        os.chmod(self.root, 0o755)
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, text=True,
                       timeout=120)

    def start(self) -> "LocalPostgres":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c max_connections=100")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                  str(self.log), "-w", "-t", "60", "start")
        return self

    def create(self, db: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "postgres", db)
        return self.url(db)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)



__all__ = ["LocalPostgres", "free_port"]
