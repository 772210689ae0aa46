"""Shared machinery for the API simulators: a threaded HTTP server, routing,
switchable faults and a small control API.

A simulator is a real HTTP server on 127.0.0.1: tests start it in-process on a free
port (``sim.start()``) and inspect its state directly; ``manage.py simulate`` runs
it standalone, and the control API (``/_sim/...``) switches faults at run time:

    GET  /_sim/faults            current faults
    POST /_sim/faults            {"error_5xx_rate": 0.2, "latency": 0.5, ...} (merged)
    POST /_sim/faults/reset      all faults off
    GET  /_sim/state             a summary of the simulator's state
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_STORM_LOCK = threading.Lock()


@dataclass
class Faults:
    """Faults applied to every non-control request (optionally only under `paths`)."""

    rate_429: float = 0.0  # probability of a 429 on a request
    storm_until: float = 0.0  # unix time: every request gets 429 until then
    storm_requests: int = 0  # the next this many requests get 429 (a storm whatever the clients' pace)
    retry_after: float | None = None  # Retry-After header value sent with injected 429s
    error_5xx_rate: float = 0.0  # probability of a 500/502/503
    latency: float = 0.0  # seconds added to every response
    malformed_json_rate: float = 0.0  # probability of a truncated JSON body on a 2xx
    paths: list[str] = field(default_factory=list)  # limit faults to these path prefixes ([] = all)

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key == "storm_seconds":
                self.storm_until = time.time() + float(value)
            elif key in names:
                setattr(self, key, value)
            else:
                raise ValueError(f"unknown fault {key!r}")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups from the route
    # On a streaming route (``route(..., stream=True)``) the body is not read before
    # dispatch: `body` is b"" and `stream` reads it (a BodyReader).
    stream: BodyReader | None = None

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8-sig") or "null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False, default=str).encode()


Handler = Callable[[Request], Response]


class BodyReader:
    """A request body read as it arrives, for bodies too large to hold at once.

    Handles ``Content-Length`` and ``Transfer-Encoding: chunked``; `read()` returns
    b"" at the end of the body, never reading past it (the connection stays usable).
    """

    def __init__(self, rfile: Any, length: int = 0, chunked: bool = False) -> None:
        self._rfile, self._chunked = rfile, chunked
        self._left = 0 if chunked else max(0, length)  # bytes left in the body, or in the current chunk
        self._done = not chunked and length <= 0
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        if self._done or size == 0:
            return b""
        if self._chunked and self._left == 0:
            header = self._rfile.readline()
            if not header:
                raise ConnectionError("the client closed the connection inside a chunked body")
            self._left = int(header.strip().split(b";")[0] or b"0", 16)
            if self._left == 0:
                while self._rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                self._done = True
                return b""
        data = self._rfile.read(min(size, self._left))
        if not data:
            raise ConnectionError("the client closed the connection inside the body")
        self._left -= len(data)
        self.bytes_read += len(data)
        if self._left == 0:
            if self._chunked:
                self._rfile.readline()  # the CRLF after a chunk
            else:
                self._done = True
        return data

    def drain(self) -> None:
        """Read and drop whatever the handler left unread."""
        while self.read(1 << 20):
            pass


class Simulator:
    """Base class. Subclasses register routes in `setup_routes()` and keep state under `self.lock`."""

    name = "simulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.lock = threading.RLock()
        self.faults = Faults()
        self.requests_seen: list[tuple[float, str, str]] = []  # (time, method, path)
        self.status_counts: dict[int, int] = {}
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.route("GET", r"/_sim/faults", lambda r: Response(body=asdict(self.faults)))
        self.route("POST", r"/_sim/faults", self._set_faults)
        self.route("POST", r"/_sim/faults/reset", self._reset_faults)
        self.route("GET", r"/_sim/state", lambda r: Response(body=self.state_summary()))
        self.setup_routes()

    # -- to override ---------------------------------------------------------------
    def setup_routes(self) -> None:
        raise NotImplementedError

    def state_summary(self) -> dict[str, Any]:
        return {"requests": len(self.requests_seen), "statuses": self.status_counts}

    def error_response(self, status: int, message: str) -> Response:
        """The system's own error body shape (overridden per system)."""
        return Response(status=status, body={"message": message})

    def before_request(self, request: Request) -> Response | None:
        """System rules applied before routing (auth, rate limits). Return a Response to short-circuit."""
        return None

    # -- routing -------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler, *, stream: bool = False) -> None:
        """Serve `method` on paths matching `pattern`. With `stream=True` the handler reads
        the body itself from ``request.stream`` (whatever it leaves is drained after)."""
        self._routes.append((method.upper(), re.compile(f"^{pattern}$", re.IGNORECASE), handler, stream))

    def streams(self, method: str, path: str) -> bool:
        """True if the route that would answer `method` `path` reads its body as a stream."""
        for route_method, pattern, _, stream in self._routes:
            if route_method == method.upper() and pattern.match(path):
                return stream
        return False

    def dispatch(self, request: Request) -> Response:
        control = request.path.startswith("/_sim/")
        with self.lock:
            self.requests_seen.append((time.time(), request.method, request.path))
        if not control:
            injected = self._inject_fault(request)
            if injected is not None:
                return injected
            early = self.before_request(request)
            if early is not None:
                return early
        allowed = False
        for method, pattern, handler, _ in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            try:
                response = handler(request)
            except json.JSONDecodeError as exc:
                return self.error_response(400, f"invalid JSON: {exc}")
            if not control and 200 <= response.status < 300 and self._chance(self.faults.malformed_json_rate, request):
                response = Response(
                    status=response.status, body=response.encode()[: max(1, len(response.encode()) // 2)]
                )
            return response
        return self.error_response(405 if allowed else 404, f"no route for {request.method} {request.path}")

    def _chance(self, rate: float, request: Request) -> bool:
        if not rate or (self.faults.paths and not any(request.path.startswith(p) for p in self.faults.paths)):
            return False
        return random.random() < rate

    def _storm_request(self) -> bool:
        with _STORM_LOCK:
            if self.faults.storm_requests <= 0:
                return False
            self.faults.storm_requests -= 1
            return True

    def _inject_fault(self, request: Request) -> Response | None:
        faults = self.faults
        applies = not faults.paths or any(request.path.startswith(p) for p in faults.paths)
        if not applies:
            return None
        if faults.latency:
            time.sleep(faults.latency)
        if time.time() < faults.storm_until or self._storm_request() or self._chance(faults.rate_429, request):
            response = self.error_response(429, "Too many requests")
            if faults.retry_after is not None:
                response.headers["Retry-After"] = str(faults.retry_after)
            return response
        if self._chance(faults.error_5xx_rate, request):
            return self.error_response(random.choice([500, 502, 503]), "Simulated server error")
        return None

    def _set_faults(self, request: Request) -> Response:
        try:
            self.faults.update(request.json() or {})
        except ValueError as exc:
            return Response(status=400, body={"error": str(exc)})
        return Response(body=asdict(self.faults))

    def _reset_faults(self, request: Request) -> Response:
        self.faults = Faults()
        return Response(body=asdict(self.faults))

    # -- server --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        simulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path.rstrip("/") or "/"
                length = int(self.headers.get("Content-Length") or 0)
                chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
                stream = None
                if simulator.streams(self.command, path):
                    stream, body = BodyReader(self.rfile, length, chunked), b""
                elif chunked:
                    body = self._read_chunked()
                else:
                    body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command.upper(),
                    path=path,
                    query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    stream=stream,
                )
                try:
                    response = simulator.dispatch(request)
                except Exception as exc:  # a simulator bug must still answer
                    response = simulator.error_response(500, f"simulator error: {exc!r}")
                if stream is not None:
                    try:
                        stream.drain()  # an early answer (401, 429, 400) still consumes the body
                    except (OSError, ValueError):
                        self.close_connection = True
                with simulator.lock:
                    simulator.status_counts[response.status] = simulator.status_counts.get(response.status, 0) + 1
                payload = response.encode()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (its timeout) before the answer: as for a real API, the
                    # work is done and the answer is lost.
                    self.close_connection = True

            def _read_chunked(self) -> bytes:
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), name=f"{self.name}-http", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
