"""A fresh Visma.net simulator per test, seeded with the demo company."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from simulators.vismanet.server import VismaNetSimulator


@pytest.fixture
def sim() -> Iterator[VismaNetSimulator]:
    simulator = VismaNetSimulator()
    simulator.seed_demo()
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def token(sim: VismaNetSimulator) -> str:
    return sim.issue_tokens()["access_token"]


class Api:
    """requests against the simulator with a bearer token."""

    def __init__(self, sim: VismaNetSimulator, token: str) -> None:
        self.sim, self.token = sim, token

    def __call__(self, method: str, path: str, body: Any = None, headers: dict | None = None, **params: Any):
        return requests.request(
            method,
            self.sim.url + path,
            params=params or None,
            data=None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body)),
            timeout=5,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )


@pytest.fixture
def api(sim: VismaNetSimulator, token: str) -> Api:
    return Api(sim, token)


class Receiver:
    """A webhook receiver: records every POST; answers `statuses` in turn, then 200."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                receiver.posts.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/visma"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
