"""`manage.py demo` — the embedded default (SQLite + ORM broker) and the Redis broker option —
runs the whole product in child processes, syncs demo orders, serves the admin with its stylesheets
and scripts, and stops cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

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


class Demo:
    """`manage.py demo` in a child process, on its own SQLite file and static directory."""

    def __init__(self, tmp_path: Path, *, broker: str = "orm") -> None:
        self.port, norce_port, fortnox_port = free_port(), free_port(), free_port()
        norce_visma_port, vismanet_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STATIC_MANIFEST")}
        env.update(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING",
                "STATIC_ROOT": str(tmp_path / "static"),
            }
        )
        if broker == "redis":
            env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
            env["Q_NAME"] = f"brygga-test-{os.getpid()}"
        # Two clusters, as `make demo` runs them: the ordinary queue and the priority queue.
        env["Q_PRIORITY_CLUSTER"] = f"brygga-test-priority-{os.getpid()}"
        self.log = tmp_path / "demo.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "demo",
                    "--port",
                    str(self.port),
                    "--norce-port",
                    str(norce_port),
                    "--fortnox-port",
                    str(fortnox_port),
                    "--norce-vismanet-port",
                    str(norce_visma_port),
                    "--vismanet-port",
                    str(vismanet_port),
                    "--warehouse-delay",
                    "2",
                    "--interval",
                    "1",
                    "--seed",
                    "7",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def printed(self, label: str) -> str:
        """A value the demo prints on start (`API token`, `Username`, `Password`)."""
        try:
            found = wait_until(
                lambda: re.search(rf"^\s*{label}\s+(\S+)", self.log.read_text(), re.MULTILINE),
                timeout=90,
                message=f"the demo to print its {label}",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the demo printed:\n{self.tail()}") from None
        return found.group(1)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def kill(self) -> None:
        # The children run in sessions of their own: find them while the demo still has them.
        children = descendants(self.process.pid)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_demo_runs_the_product_and_stops_cleanly(tmp_path, broker):
    if broker == "redis" and not redis_available():
        pytest.fail("Redis is not running on 127.0.0.1:6379 (start it: see .ci/run)")
    demo = Demo(tmp_path, broker=broker)
    try:
        token = demo.printed("API token")
        auth = {"Authorization": f"Token {token}"}
        base = demo.base

        def references(query: str) -> int:
            try:
                return requests.get(f"{base}/api/v1/references/?{query}", headers=auth, timeout=5).json()["count"]
            except (requests.RequestException, ValueError, KeyError):
                return 0

        def integrations() -> list[dict] | None:
            try:
                return requests.get(f"{base}/api/v1/integrations/", headers=auth, timeout=5).json()["results"]
            except (requests.RequestException, ValueError, KeyError):
                return None  # the web server is still starting

        ids = {
            item["merchant"]["slug"]: item["id"]
            for item in wait_until(integrations, timeout=60, message="the demo's API to answer")
        }
        assert set(ids) == {"demo-sportshop", "demo-friluft"}, ids
        sportshop, friluft = ids["demo-sportshop"], ids["demo-friluft"]
        wait_until(
            lambda: references(f"integration={sportshop}&data_type=order") >= 3,
            timeout=90,
            message=f"three Fortnox demo orders invoiced ({demo.tail()})",
        )
        # The Visma.net merchant: an order becomes a sales order, the warehouse ships it, and the
        # delivery goes back to Norce.
        wait_until(
            lambda: references(f"integration={friluft}&data_type=order") >= 1,
            timeout=90,
            message=f"a Visma.net demo order synced ({demo.tail()})",
        )
        wait_until(
            lambda: references(f"integration={friluft}&data_type=fulfilment") >= 1,
            timeout=90,
            message=f"a Visma.net delivery told to Norce ({demo.tail()})",
        )
        health = requests.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["cluster"] == "ok"
        assert health.json()["priority_queue"] == "ok"  # the demo's second cluster serves it
        assert requests.get(f"{base}/admin/login/", timeout=5).status_code == 200
        children = descendants(demo.process.pid)
        assert len(children) >= 3  # web server and q cluster (sentinel + workers)

        # Ctrl-C; or, for the other run, a service manager's stop
        demo.process.send_signal(signal.SIGINT if broker == "orm" else signal.SIGTERM)
        assert demo.process.wait(timeout=30) == 0
        time.sleep(0.5)
        alive = [
            pid
            for pid in children
            if Path(f"/proc/{pid}").exists()
            and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        ]
        assert not alive, f"processes left running after the stop: {alive}"
    finally:
        demo.kill()


class AssetLinks(HTMLParser):
    """The stylesheets and scripts a page references."""

    def __init__(self) -> None:
        super().__init__()
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and "stylesheet" in (values.get("rel") or "").split() and values.get("href"):
            self.stylesheets.append(values["href"])
        elif tag == "script" and values.get("src"):
            self.scripts.append(values["src"])


def asset_links(html: str) -> AssetLinks:
    parser = AssetLinks()
    parser.feed(html)
    return parser


def admin_session(base: str, username: str, password: str) -> requests.Session:
    """Log in through the admin's login form, as a browser does."""
    session = requests.Session()

    def login_form() -> tuple[requests.Response] | None:
        try:
            return (session.get(f"{base}/admin/login/?next=/admin/", timeout=10),)
        except requests.ConnectionError:
            return None  # the web server is still starting

    (form,) = wait_until(login_form, timeout=60, message="the demo's web server to answer")
    assert form.status_code == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base}/admin/login/?next=/admin/",
        timeout=10,
        headers={"Referer": form.url},
        data={"csrfmiddlewaretoken": csrf, "username": username, "password": password, "next": "/admin/"},
    )
    assert answer.status_code == 200 and answer.url == f"{base}/admin/", f"login failed: {answer.url}"
    return session


CONTENT_TYPES = {".css": {"text/css"}, ".js": {"text/javascript", "application/javascript"}}


def test_demo_admin_is_served_with_its_stylesheets_and_scripts(tmp_path):
    """The demo runs with DEBUG off, as production does: the admin's CSS and JS must still be served
    (collected, compressed, under content-hashed names), or the admin renders as bare HTML."""
    demo = Demo(tmp_path)
    try:
        username, password = demo.printed("Username"), demo.printed("Password")
        session = admin_session(demo.base, username, password)
        index = session.get(f"{demo.base}/admin/", timeout=10)
        assert index.status_code == 200 and "Site administration" in index.text
        changelist = session.get(f"{demo.base}/admin/integrations/integration/", timeout=10)
        change_url = re.search(r'href="(/admin/integrations/integration/\d+/change/)', changelist.text).group(1)
        change = session.get(f"{demo.base}{change_url}", timeout=10)
        assert change.status_code == 200

        assets: dict[str, str] = {}
        for page in (index, change):
            links = asset_links(page.text)
            assert links.stylesheets and links.scripts, f"{page.url} references no stylesheet or script"
            for href in links.stylesheets + links.scripts:
                assets.setdefault(urljoin(page.url, href), page.url)
        assert any("/static/admin/css/base" in url for url in assets), sorted(assets)
        assert any("/static/admin/js/" in url for url in assets), sorted(assets)

        problems = []
        for url, page in sorted(assets.items()):
            if not url.startswith(f"{demo.base}/static/"):
                continue  # not ours to serve
            answer = session.get(url, timeout=10)
            media_type = answer.headers.get("Content-Type", "").split(";")[0].strip()
            expected = CONTENT_TYPES[Path(urlsplit(url).path).suffix]
            if answer.status_code != 200 or media_type not in expected or not answer.content:
                problems.append(f"{url} (from {page}): {answer.status_code} {media_type or 'no content type'}")
            elif not re.search(
                r"\.[0-9a-f]{12}\.(css|js)$", urlsplit(url).path
            ) or "immutable" not in answer.headers.get("Cache-Control", ""):
                problems.append(
                    f"{url}: not served as a content-hashed, cacheable file "
                    f"(Cache-Control: {answer.headers.get('Cache-Control')})"
                )
        assert not problems, "\n".join(problems)
        assert "Not Found: /static/" not in demo.log.read_text(errors="replace")
    finally:
        demo.kill()
