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
BENCH_DB = "brygga_bench"
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


def start_web(threads: int) -> tuple[Child, int]:
    web = Child(
        "web",
        [sys.executable, "-m", "bench.web", "--threads", str(threads)],
        child_env(),
        VAR / "bench-web.log",
        stdout_pipe=True,
    )
    line = web.read_line(60)
    if not line.isdigit():
        web.stop()
        raise RuntimeError(f"web server did not start: {web.tail()}")
    return web, int(line)


def start_cluster(workers: int, rate_limits: bool, key: str) -> Child:
    env = child_env(Q_WORKERS=str(workers), Q_POLL="0.05", RATE_LIMITS="true" if rate_limits else "false")
    return Child("qcluster", [sys.executable, "manage.py", "qcluster"], env, VAR / f"bench-qcluster-{key}.log")


# --- the integration ------------------------------------------------------------------
def build_integration(*, name: str, norce_url: str, fortnox_url: str, flow_settings: dict[str, Any]):
    from integrations.demo import create_norce_fortnox_integration
    from integrations.models import Connector, Merchant

    merchant, _ = Merchant.objects.get_or_create(slug="bench-shop", defaults={"name": "Bench Shop AB"})
    integration = create_norce_fortnox_integration(
        merchant=merchant,
        name=name,
        norce_url=norce_url,
        fortnox_url=fortnox_url,
        flow_settings=flow_settings,
        norce_credentials={
            "client_id": "norce-client",
            "client_secret": "norce-secret-value",
            "receiver_username": RECEIVER_USER,
            "receiver_password": RECEIVER_PASSWORD,
        },
        fortnox_credentials={"client_id": "fortnox-client", "client_secret": "fortnox-secret-value"},
    )
    return integration, integration.connectors.get(role=Connector.Role.ERP)
