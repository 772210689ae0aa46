"""`manage.py demo` — the embedded default (SQLite + ORM broker) and the Redis broker option —
runs the whole product in child processes, syncs demo orders, and stops cleanly on Ctrl-C."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import ROOT, wait_until

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:  # parent pid
            child = int(stat.parent.name)
            found |= {child} | descendants(child)
    return found


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_demo_runs_the_product_and_stops_cleanly(tmp_path, broker):
    if broker == "redis" and not redis_available():
        pytest.fail("Redis is not running on 127.0.0.1:6379 (start it: see .ci/run)")
    port, norce_port, fortnox_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING"})
    if broker == "redis":
        env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
        env["Q_CLUSTER_NAME"] = f"brygga-test-{os.getpid()}"
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(port), "--norce-port", str(norce_port),
             "--fortnox-port", str(fortnox_port), "--interval", "1", "--seed", "7"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        token = wait_until(lambda: re.search(r"API token\s+(\w+)", log.read_text()), timeout=60,
                           message="the demo to print its API token").group(1)
        auth = {"Authorization": f"Token {token}"}
        base = f"http://127.0.0.1:{port}"

        def invoiced() -> int:
            try:
                return requests.get(f"{base}/api/v1/references/?data_type=order", headers=auth, timeout=5).json()["count"]
            except (requests.RequestException, ValueError, KeyError):
                return 0

        wait_until(lambda: invoiced() >= 3, timeout=90, message=f"three demo orders invoiced ({log.read_text()[-2000:]})")
        health = requests.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["cluster"] == "ok"
        assert requests.get(f"{base}/admin/login/", timeout=5).status_code == 200
        children = descendants(demo.pid)
        assert len(children) >= 3  # web server and q cluster (sentinel + workers)

        demo.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait(timeout=30) == 0
        time.sleep(0.5)
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
        assert not alive, f"processes left running after Ctrl-C: {alive}"
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            for pid in descendants(demo.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
