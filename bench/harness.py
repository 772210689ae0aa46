"""What every benchmark shares: the bench database, Django set up on it, child processes
(web server, django-q2 cluster) that are killed with their group, and a demo integration
built on the simulators' URLs."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
# The orders benchmark's database; the others append to it (_master, _statuses, _vismanet).
BENCH_DB = os.environ.get("BENCH_DB_NAME") or "brygga_bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/brygga"
RECEIVER_USER, RECEIVER_PASSWORD = "norce", "receiver-secret-value"


BEGAN = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - BEGAN:6.1f}s] {message}", file=sys.stderr, flush=True)


# --- database -------------------------------------------------------------------------
def bench_database_url(url: str, name: str = BENCH_DB) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"bench: DATABASE_URL must be a PostgreSQL URL, not {parts.scheme or url!r}")
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def recreate_database(url: str, name: str = BENCH_DB) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname="postgres",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def spread_resync_run_ids() -> None:
    """Start the database's full-file run ids far from other databases': their spools in the
    shared var/spool are named after the run's id."""
    import random

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('integrations_resyncrun', 'id'), %s)",
            [random.randrange(10**8, 2 * 10**9)],
        )


def machine_info(load_before: tuple[float, float, float]) -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


# --- child processes ------------------------------------------------------------------
class Child:
    """A child process in its own session (process group), stopped with its whole group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path, *, stdout_pipe: bool = False):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def read_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline().decode().strip() if ready else ""

    def stop(self, timeout: float = 8.0) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        # Workers left behind by a sentinel that died first.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.stdout:
            self.process.stdout.close()
        self._log.close()

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


def start_web(threads: int, log_name: str = "bench-web") -> tuple[Child, int]:
    web = Child(
        "web",
        [sys.executable, "-m", "bench.web", "--threads", str(threads)],
        child_env(),
        VAR / f"{log_name}.log",
        stdout_pipe=True,
    )
    line = web.read_line(60)
    if not line.isdigit():
        web.stop()
        raise RuntimeError(f"web server did not start: {web.tail()}")
    return web, int(line)


def start_cluster(workers: int, rate_limits: bool, key: str, log_name: str = "bench-qcluster") -> Child:
    env = child_env(Q_WORKERS=str(workers), Q_POLL="0.05", RATE_LIMITS="true" if rate_limits else "false")
    return Child("qcluster", [sys.executable, "manage.py", "qcluster"], env, VAR / f"{log_name}-{key}.log")


# --- the integration ------------------------------------------------------------------
def build_integration(*, name: str, norce_url: str, erp, erp_simulator, flow_settings: dict[str, Any]):
    """An integration of the Norce simulator and an ERP's (bench.erps) with the orders flow; its
    ERP connector is ready for its first call. Returns (integration, ERP connector)."""
    from integrations.demo import create_norce_erp_integration
    from integrations.models import Connector, Merchant

    merchant, _ = Merchant.objects.get_or_create(slug="bench-shop", defaults={"name": "Bench Shop AB"})
    integration = create_norce_erp_integration(
        merchant=merchant,
        name=name,
        norce_url=norce_url,
        norce_credentials={
            "client_id": "norce-client",
            "client_secret": "norce-secret-value",
            "receiver_username": RECEIVER_USER,
            "receiver_password": RECEIVER_PASSWORD,
        },
        erp_system=erp.key,
        erp_url=erp_simulator.url,
        erp_settings=erp.connector_settings(erp_simulator),
        erp_credentials=erp.credentials(),
        flow_settings=flow_settings,
    )
    connector = integration.connectors.get(role=Connector.Role.ERP)
    erp.prime(connector, erp_simulator)
    return integration, connector
