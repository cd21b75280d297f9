"""The load benchmark's database and server: a database created (and dropped) on the configured
PostgreSQL server, the default connection switched to it, gunicorn started on loopback as production
runs it, and the CPU the server side spends (gunicorn and the PostgreSQL backends of that database)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections

from indicators.loadbench.client import Session

HOST = "127.0.0.1"


# Database ------------------------------------------------------------------------------------

def switch(name: str) -> None:
    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = name


def execute(sql: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(sql)


def exists(name: str) -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def database_url(name: str) -> str:
    s = connections["default"].settings_dict
    user = quote(s.get("USER") or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{s.get('HOST') or 'localhost'}{port}/{quote(name, safe='')}"


# Server --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_settings() -> dict[str, str]:
    """What the server runs with, as in production (docker-compose.yml) unless the environment
    says otherwise: DEBUG off, database connections kept for 60 s (a new connection per request
    costs more than a whole /health/)."""
    return {"DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "false"),
            "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60")}


def start_server(workers: int, port: int, url: str, log) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, **server_settings())
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", str(workers),
               "--bind", f"{HOST}:{port}", "--timeout", "120", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(server: subprocess.Popen, port: int, log_path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if Session(HOST, port).request("GET", "/health/").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        tail = log.read()[-2000:]
    raise CommandError(f"gunicorn did not answer /health/ within a minute:\n{tail}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _cpu_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def server_cpu(server: subprocess.Popen, database: str) -> float:
    """CPU seconds used so far by gunicorn (master and workers) and by the PostgreSQL backends
    serving the benchmark's database, when /proc shows them (Linux, same machine, same user):
    a measure of a request's cost that other work on the machine does not move."""
    total = _cpu_of(server.pid)
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return total
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent == server.pid:
                total += _cpu_of(pid)
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                title = cmdline.read().decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue
        # Its backends; not autovacuum, which the saves wake and which then runs in any phase.
        if title.startswith("postgres:") and f" {database} " in title and "autovacuum" not in title:
            total += _cpu_of(pid)
    return total
