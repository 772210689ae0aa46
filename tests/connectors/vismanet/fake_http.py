"""A fake HTTP edge for the Visma.net client: only the adapter under requests.Session is faked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Reply = tuple  # (status, body, headers?)
TENANT = "5f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
API = "https://api.finance.visma.net"
AUTH = "https://connect.visma.com"
SO = "https://salesorder.visma.net"


def ipp(fault: str, message: str) -> dict[str, str]:
    return {
        "ExceptionType": "IPPException",
        "ExceptionMessage": message,
        "ExceptionFaultCode": fault,
        "ExceptionMessageID": f"{fault}_0b3c",
        "ExceptionDetails": "",
    }


class FakeVisma(BaseAdapter):
    """Answers requests from per-route queues of replies; the last reply of a route repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], list[Any]] = {}
        self.sent: list[requests.PreparedRequest] = []
        self.tokens = 0
        self.on("POST", "/connect/token", self._token)

    def _token(self, request: requests.PreparedRequest) -> Reply:
        self.tokens += 1
        return (200, {"access_token": f"token-{self.tokens}", "token_type": "Bearer", "expires_in": 3600})

    def on(self, method: str, path: str, *replies: Reply | Callable[[requests.PreparedRequest], Reply]) -> None:
        self.routes[(method, path)] = list(replies)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        path = urlsplit(request.url).path
        queue = self.routes.get((request.method, path))
        if not queue:
            reply: Reply = (404, ipp("10404", f"{path} not found"))
        else:
            entry = queue.pop(0) if len(queue) > 1 else queue[0]
            reply = entry(request) if callable(entry) else entry
        status, body, *rest = reply
        response = requests.Response()
        response.status_code = status
        response._content = b"" if body is None else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(rest[0] if rest else {})})
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass

    def calls(self, method: str, path: str) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if r.method == method and urlsplit(r.url).path == path]


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def form(request: requests.PreparedRequest) -> dict[str, str]:
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return {k: v[0] for k, v in parse_qs(body).items()}


def body_of(request: requests.PreparedRequest) -> Any:
    return json.loads(request.body)


VAT = [
    {
        "vatId": "MP1",
        "description": "Utgående moms 25 %",
        "type": "Sales",
        "schedules": [{"startDate": "2000-01-01", "vatRate": 25}],
    },
    {
        "vatId": "IP1",
        "description": "Ingående moms 25 %",
        "type": "Purchase",
        "schedules": [{"startDate": "2000-01-01", "vatRate": 25}],
    },
    {
        "vatId": "MP2",
        "description": "Utgående moms 12 %",
        "type": "Sales",
        "schedules": [{"startDate": "2000-01-01", "vatRate": 12}],
    },
    {
        "vatId": "MP3",
        "description": "Utgående moms 6 %",
        "type": "Sales",
        "schedules": [{"startDate": "2000-01-01", "vatRate": 6}],
    },
    {
        "vatId": "MF",
        "description": "Momsfri",
        "type": "Sales",
        "schedules": [{"startDate": "2000-01-01", "vatRate": 0}],
    },
]
