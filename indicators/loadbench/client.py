"""A small HTTP client for the load benchmark: one session (cookies, CSRF token) per simulated
filer over ``http.client`` on loopback, every request timed and recorded under a step name. The
standard library is enough here: gunicorn's sync workers close each connection anyway, and the
client threads spend their time waiting on the server."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

TIMEOUT = 60
_VERSION = re.compile(r'name="version" value="(\d+)"')


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


@dataclass
class Recorder:
    """Durations and errors by step, shared by the client threads."""

    durations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)  # the first few errors, for the report
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, step: str, seconds: float) -> None:
        with self.lock:
            self.durations[step].append(seconds)

    def error(self, step: str, seconds: float, detail: str) -> None:
        with self.lock:
            self.durations[step].append(seconds)
            self.errors[step] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{step}: {detail}")


class Session:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict | None = None, data: dict | None = None) -> Response:
        headers = {"Host": f"{self.host}:{self.port}", "Accept-Language": "zh-hans"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        if method != "GET" and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            content = reply.read()
            for header in reply.headers.get_all("Set-Cookie") or []:
                cookie = SimpleCookie()
                cookie.load(header)
                for name, morsel in cookie.items():
                    self.cookies[name] = morsel.value
        finally:
            connection.close()
        return Response(reply.status, content, time.perf_counter() - started)

    def login(self, username: str, password: str) -> bool:
        self.request("GET", "/login/")
        reply = self.request("POST", "/login/", form={
            "username": username, "password": password, "next": "/",
            "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
        return reply.status == 302 and "sessionid" in self.cookies


def version_in(page: bytes) -> int | None:
    found = _VERSION.search(page.decode("utf-8", "replace"))
    return int(found.group(1)) if found else None
