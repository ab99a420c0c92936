"""A throwaway PostgreSQL server on a loopback port, for the tests that check caretune on PostgreSQL.

It uses the machine's own PostgreSQL binaries (Debian's ``postgresql`` package); the cluster lives in a
temporary directory and is stopped and deleted afterwards. PostgreSQL refuses to run as root, so under root
it runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.server.live import free_port


def _binary(name: str) -> str | None:
    """A PostgreSQL tool on PATH, else in Debian's versioned folder (which is not on PATH)."""
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


def _as_postgres_user(folder: Path) -> list[str]:
    """The command prefix that runs PostgreSQL's tools as a user they accept (the current one unless root)."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    os.chown(folder, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """Start a fresh cluster; yields its SQLAlchemy URL (psycopg driver, trust auth, database ``postgres``)."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="caretune-pg-"))
    folder.chmod(0o700)
    run_as = _as_postgres_user(folder)
    data, port = folder / "data", free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
