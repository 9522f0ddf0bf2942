"""What every request to ``jobq serve`` passes before it reaches a route.

One ASGI middleware, in this order: the Host header must name this server (a page on
another site cannot reach it through DNS rebinding); a token never rides in the query
string (it would land in access logs and browser history); a changing call carries
``Authorization: Bearer <token>`` (compared in constant time; cookies are never read, so a
page on another site cannot make the browser call on its user's behalf); its body, if
any, is JSON of a bounded size. Every response gets the security headers (a
Content-Security-Policy that allows scripts and styles from this server only, no framing,
no sniffing, no referrer).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobq.errors import ConfigError

# Reading calls; every other method changes something and needs the token.
SAFE_METHODS = frozenset({"GET", "HEAD"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Names a token might be given under in a URL; any of them is refused outright.
TOKEN_PARAMS = frozenset({"token", "access_token", "api_token", "auth", "authorization",
                          "bearer", "api_key", "apikey"})
MAX_BODY = 1 << 20
# Set in the request's scope once its bearer token checked out; the changing routes
# refuse a request without it, so they stay shut should this middleware ever be missing.
AUTHORIZED = "jobq.authorized"
MIN_TOKEN_LENGTH = 16
_TOKEN_CHARS = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces: one header value

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode(), value.encode()) for name, value in (
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "same-origin"),
    )
)


def new_token() -> str:
    """A fresh API token: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def check_token(token: object) -> str:
    """The token, or ``ConfigError`` saying why it cannot be one."""
    if not isinstance(token, str) or not token:
        raise ConfigError(
            "the HTTP API needs a token (token=... / --token / $JOBQ_API_TOKEN); "
            "jobq.web.new_token() makes a good one"
        )
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN_CHARS.match(token):
        raise ConfigError(
            f"the API token must be at least {MIN_TOKEN_LENGTH} printable characters without "
            "spaces (it is sent as one header value); `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'` makes a good one"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names accepted: the loopback names and ``extra`` (the address the server
    is bound to, a reverse proxy's name). A wildcard address such as 0.0.0.0 names no
    host, so it adds none."""
    names = {*LOOPBACK_NAMES, *(_host_name(h) for h in extra if not _is_wildcard(h))}
    return frozenset(n for n in names if n)


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name in a Host header value, without its port: ``[::1]:8000`` → ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header.rstrip(".")


class Guard:
    """The middleware described in this module's docstring."""

    def __init__(self, app: ASGIApp, *, token: str, hosts: frozenset[str]) -> None:
        self.app = app
        self.token = token.encode()
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        headers = {k.lower(): v for k, v in scope["headers"]}
        refusal = self.refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send_with_headers)
            return
        status, reason = refusal
        await _send_json(send_with_headers, status, reason)

    def refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        """(status, one-line reason) when the request must stop here, else None."""
        host = _host_name(headers.get(b"host", b"").decode("latin-1"))
        if host not in self.hosts:
            return 400, (f"Host {host!r} is not one this server answers to; if it is reached "
                         f"through that name (a reverse proxy), start jobq serve with "
                         f"--allow-host {host or 'NAME'}")
        if self._token_in_query(scope.get("query_string", b"")):
            return 401, ("the API token must not be put in the URL (it would be kept in logs "
                         "and browser history); send it as the header "
                         "Authorization: Bearer <token>")
        if scope["method"] in SAFE_METHODS:
            return None
        if not self.authorized(headers.get(b"authorization")):
            return 401, ("this call changes the store: send the header Authorization: Bearer "
                         "<token> (the token jobq serve printed, or its --token / "
                         "$JOBQ_API_TOKEN)")
        scope[AUTHORIZED] = True
        return _body_refusal(headers)

    def authorized(self, header: bytes | None) -> bool:
        """Whether an Authorization header carries this server's bearer token."""
        if not header:
            return False
        scheme, _, given = header.strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)

    def _token_in_query(self, query: bytes) -> bool:
        if not query:
            return False
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        return any(name.lower() in TOKEN_PARAMS
                   or hmac.compare_digest(value.encode("latin-1"), self.token)
                   for name, value in pairs)


def _body_refusal(headers: dict[bytes, bytes]) -> tuple[int, str] | None:
    length_text = headers.get(b"content-length")
    if length_text is None:
        if b"transfer-encoding" in headers:
            return 411, "send the body with a Content-Length (at most 1 MiB)"
        return None  # no body: retry and cancel need none
    try:
        length = int(length_text)
    except ValueError:
        return 400, f"Content-Length {length_text!r} is not a number"
    if length == 0:
        return None
    if length > MAX_BODY:
        return 413, f"the body is {length:,} bytes; at most {MAX_BODY:,} are taken"
    media = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
    if media != b"application/json" and not media.endswith(b"+json"):
        shown = media.decode("latin-1") or "none"
        return 415, (f"the body must be JSON (Content-Type: application/json), "
                     f"not {shown}")
    return None


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [(b"content-type", b"application/json"),
                          (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="jobq"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
