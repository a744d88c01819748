"""The Docker Engine API as the CLI uses it: JSON calls, streams, and two kinds of failure.

The CLI is only a client of berthd's API, so this is the one place that knows
about sockets and HTTP; commands see JSON values, byte streams, and either the
daemon saying no (DaemonError) or the daemon not being reachable (ConnectError).
"""

from __future__ import annotations

import os

from berth.client import jsontext, wire
from berth.common import DEFAULT_HOST

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

API_VERSION = "1.41"
_STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error",
                501: "Not Implemented", 503: "Service Unavailable"}


class DaemonError(Exception):
    """An error answer from the daemon: its HTTP status and its `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectError(Exception):
    """The daemon's socket could not be used; str() is what the user should read."""


def host_from_env(flag: str | None) -> str:
    """-H wins, then BERTH_HOST, then the default socket."""
    return flag or os.environ.get("BERTH_HOST") or DEFAULT_HOST


def socket_path(host: str) -> str:
    """The filesystem path of a unix:// host, the only kind berth speaks."""
    if host.startswith("unix://"):
        return host[len("unix://"):]
    raise ConnectError(f"unable to parse berth host `{host}`: berth only speaks unix:// sockets")


class Stream:
    """An answer body read as it arrives (logs -f, attach, pull, import)."""

    def __init__(self, resp: wire.Response) -> None:
        self.resp = resp
        self.content_type = resp.header("Content-Type")

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.resp
        except (OSError, wire.ProtocolError):
            return  # the daemon went away: the stream simply ends, as docker's does

    def json_messages(self) -> Iterator[dict]:
        """The JSON objects of a progress stream, one per line or back to back."""
        import json  # progress streams (pull, import) are worth json's import; ps is not

        decoder = json.JSONDecoder()
        buf = ""
        for data in self:
            buf += data.decode(errors="replace")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    value, end = decoder.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[end:]
                if isinstance(value, dict):
                    yield value

    def close(self) -> None:
        self.resp.close()


class Pending:
    """A request already sent whose answer is read later: run's wait, sent before the start;
    ps's list, whose table code loads while the daemon answers."""

    def __init__(self, client: Client, sock, method: str) -> None:
        self.client = client
        self.sock = sock
        self.method = method

    def result(self) -> Any:
        """The JSON (or empty) answer; DaemonError for an error status."""
        resp = self.client._answer(self.sock, self.method)
        try:
            raw = resp.read()
        except (OSError, wire.ProtocolError) as e:
            raise ConnectError(f"error reading the answer from {self.client.host}: {e}") from None
        finally:
            resp.close()
        return _json(raw)

    def close(self) -> None:
        self.sock.close()


class Client:
    """One daemon, named by its host string (unix:///run/berth/berth.sock)."""

    def __init__(self, host: str = DEFAULT_HOST) -> None:
        self.host = host

    def _connect(self):
        path = socket_path(self.host)
        try:
            return wire.connect(path)
        except PermissionError:
            raise ConnectError(
                f"permission denied while trying to connect to the berth daemon socket at {self.host}: "
                f"connect: permission denied (you must be root or in the berth group to use {path})") from None
        except OSError as e:
            import errno  # the way of failure only

            if e.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR):
                raise ConnectError(f"Cannot connect to the berth daemon at {self.host}. "
                                   f"Is the berth daemon running?") from None
            raise ConnectError(f"error during connect to {self.host}: {e.strerror or e}") from None

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
              headers: dict[str, str] | None):
        target = f"/v{API_VERSION}{_quote(path, _PATH_SAFE)}"
        if query:
            pairs = {k: v for k, v in query.items() if v is not None}
            if pairs:
                target += "?" + query_string(pairs)
        hdrs = {"Host": "berth", "User-Agent": "berth-cli"}
        if isinstance(body, (dict, list)):
            body = jsontext.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        sock = self._connect()
        try:
            wire.send_request(sock, method, target, hdrs, body)
        except OSError as e:
            sock.close()
            raise ConnectError(f"error during connect to {self.host}: {e.strerror or e}") from None
        return sock

    def _answer(self, sock, method: str) -> wire.Response:
        """Read the answer's head; an error status becomes DaemonError with docker's message."""
        try:
            resp = wire.Response(sock, method)
        except (OSError, wire.ProtocolError) as e:
            sock.close()
            raise ConnectError(f"error reading the answer from {self.host}: {e}") from None
        if resp.status >= 400:
            try:
                raw = resp.read()
            except (OSError, wire.ProtocolError):
                raw = b""
            finally:
                resp.close()
            raise DaemonError(resp.status, error_message(raw, resp.status))
        return resp

    def call(self, method: str, path: str, query: dict[str, Any] | None = None,
             body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """A request with a JSON (or empty) answer."""
        return Pending(self, self._send(method, path, query, body, headers), method).result()

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, query)

    def post(self, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        return self.call("POST", path, query, body)

    def stream(self, method: str, path: str, query: dict[str, Any] | None = None,
               body: Any = None, headers: dict[str, str] | None = None) -> Stream:
        return Stream(self._answer(self._send(method, path, query, body, headers), method))

    def start_request(self, method: str, path: str, query: dict[str, Any] | None = None) -> Pending:
        """Send a request now, read its answer later (Pending.result)."""
        return Pending(self, self._send(method, path, query, None, None), method)


# urllib.parse's quote and urlencode(doseq=True), which cost an import of urllib,
# ipaddress and re: bytes outside these are sent %-escaped, a space in a query as "+".
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_PATH_SAFE = _UNRESERVED | {ord("/")}


def _quote(text: str, safe: frozenset[int], plus: bool = False) -> str:
    return "".join(chr(b) if b in safe else "+" if plus and b == 0x20 else f"%{b:02X}"
                   for b in text.encode())


def query_string(pairs: dict[str, Any]) -> str:
    """k=v&k=v, a list value giving one pair per item: urlencode(pairs, doseq=True)."""
    out = []
    for key, value in pairs.items():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            out.append(f"{_quote(str(key), _UNRESERVED, True)}={_quote(str(item), _UNRESERVED, True)}")
    return "&".join(out)


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return jsontext.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def error_message(raw: bytes, status: int) -> str:
    """The `message` of docker's error body; FastAPI's `detail` as a fallback."""
    try:
        value = jsontext.loads(raw)
    except ValueError:
        text = raw.decode(errors="replace").strip()
        return text or _STATUS_TEXT.get(status, f"status {status}")
    if isinstance(value, dict):
        for key in ("message", "detail"):
            msg = value.get(key)
            if isinstance(msg, str):
                return msg
            if msg is not None:
                return jsontext.dumps(msg)
    return raw.decode(errors="replace").strip()
