"""A throwaway PostgreSQL server on loopback for the tests (Debian's postgresql package)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary folder; as root, run as the `postgres` user."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            raise RuntimeError(
                "PostgreSQL server binaries not found (expected /usr/lib/postgresql/*/bin). "
                "Install the Debian package 'postgresql' (scripts/setup.sh does this), or set "
                "BPBOT_TEST_DATABASE_URL to a server you started.")
        self.bin = Path(bins[-1]).parent
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bpbot-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql://bpbot@127.0.0.1:{self.port}/bpbot_test"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        """Start the server and create the test database; return its URL."""
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "bpbot", "-E", "UTF8", "--no-sync")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "-t", "60", "start")
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"postgresql://bpbot@127.0.0.1:{self.port}/postgres",
                                     autocommit=True) as conn:
                    conn.execute("CREATE DATABASE bpbot_test")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        return self.url

    def stop(self) -> None:
        """Stop the server and remove its files."""
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
