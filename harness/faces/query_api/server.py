"""The HTTP side: a socket-free ``handle`` (auth, version, dispatch, EC2's error document)
under a small http.server shim with a read timeout, and ``serve``."""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.errors import AuthFailure, Ec2Error, HarnessError, InvalidInput
from harness.faces.query_api.api import Api, caller_identity
from harness.faces.query_api.auth import HttpRequest, authenticate, request_region
from harness.faces.query_api.responses import E, document, error_xml
from harness.faces.query_api.wire import COMMON, unknown
from harness.faces.serving import is_loopback, until_interrupted
from harness.lab.persistent import PersistentLab

VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_BODY = 1 << 20
READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str


def error_response(status: int, code: str, message: str, request_id: str = "-") -> HttpResponse:
    return HttpResponse(status, error_xml(code, message, request_id))


def handle(api: Api, require_auth: bool, request: HttpRequest) -> HttpResponse:
    """One Query API request, socket-free: auth, version, dispatch, EC2's error document.

    Every refusal is a 4xx with EC2's error XML; a LabError (the lab could not enforce the
    change) is a 503; only a bug is a 500."""
    request_id = str(uuid.uuid4())
    if request.method not in ("GET", "POST"):
        return error_response(
            405,
            "MethodNotAllowed",
            f"The {request.method} method is not allowed: use GET or POST",
            request_id,
        )
    params = request.params
    action = params.get("Action", "")
    try:
        account = authenticate(api.lab, require_auth, request)
        version = params.get("Version", "")
        if not VERSION_RE.match(version):
            raise Ec2Error("MissingParameter", "The request must contain the parameter Version")
        if action == "GetCallerIdentity":  # sts: who the caller is (Ansible, Terraform ask)
            for key in params:
                if key not in COMMON:
                    raise unknown(key)
            return HttpResponse(200, caller_identity(account, request_id))
        inner = api.call(account, action, params, request_region(request))
    except AuthFailure as err:
        return error_response(err.http_status, err.code, err.message, request_id)
    except Ec2Error as err:
        status = 412 if err.code == "DryRunOperation" else 400
        return error_response(status, err.code, err.message, request_id)
    except InvalidInput as err:
        return error_response(400, "InvalidParameterValue", str(err), request_id)
    except HarnessError as err:
        return error_response(503, "Unavailable", str(err), request_id)
    except Exception as err:  # a bug: answer, and keep serving
        return error_response(500, "InternalError", f"{type(err).__name__}: {err}", request_id)
    root = E(f"{action}Response", E("requestId", request_id), *inner)
    root.set("xmlns", f"http://ec2.amazonaws.com/doc/{version}/")
    return HttpResponse(200, document(root))


class _Refused(Exception):
    """A request whose body cannot be read: answered, and the connection closed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, code, message)


def _timeout() -> _Refused:
    return _Refused(408, "RequestTimeout", f"The body was not received within {READ_TIMEOUT:g} s")


def make_handler(api: Api, require_auth: bool, log: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sg-harness"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall
        timeout = READ_TIMEOUT  # a client that stalls mid-request is dropped, not waited for

        def log_message(self, format: str, *args: Any) -> None:
            if log:
                sys.stderr.write(f"sgh serve: {self.address_string()} {format % args}\n")

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # any other method: 405, with EC2's error document
                return self._any
            raise AttributeError(name)

        def do_GET(self) -> None:
            self._any()

        def do_POST(self) -> None:
            self._any()

        def _any(self) -> None:
            try:  # any method's body is read (or refused) here, never taken as a request
                body = self._body()
            except _Refused as err:
                self.close_connection = True
                self._send(err.response)
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(
                handle(api, require_auth, HttpRequest(self.command, self.path, headers, body))
            )

        def _body(self) -> bytes:
            """The request's body, by Content-Length or in chunks; never read as a request."""
            if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
                return self._chunks()
            if "Transfer-Encoding" in self.headers:
                raise _Refused(
                    501,
                    "NotImplemented",
                    f"Transfer-Encoding {self.headers['Transfer-Encoding']!r} is not supported",
                )
            text = self.headers.get("Content-Length") or "0"
            if not text.isdigit():
                raise _Refused(
                    400, "InvalidParameterValue", f"Content-Length {text!r} is not a length"
                )
            length = int(text)
            if length > MAX_BODY:
                raise _Refused(413, "RequestEntityTooLarge", "Body too large")
            body = self._read(length)
            if len(body) < length:
                raise _Refused(
                    400,
                    "IncompleteBody",
                    f"The body has {len(body)} of the {length} bytes announced",
                )
            return body

        def _chunks(self) -> bytes:
            """A chunked body (RFC 9112 §7.1): size lines in hex, each chunk and its CRLF, a
            last chunk of size 0, trailers to an empty line."""
            body = bytearray()
            while True:
                line = self._line()
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise _Refused(
                        400, "MalformedRequest", f"Bad chunk size line {line[:40]!r}"
                    ) from None
                if size == 0:
                    break
                if len(body) + size > MAX_BODY:
                    raise _Refused(413, "RequestEntityTooLarge", "Body too large")
                chunk = self._read(size)
                if len(chunk) < size or self._read(2) != b"\r\n":
                    raise _Refused(400, "IncompleteBody", "A chunk ended before its size")
                body += chunk
            while self._line():  # trailers, up to the empty line
                pass
            return bytes(body)

        def _line(self) -> bytes:
            try:
                line = self.rfile.readline(1024)
            except (TimeoutError, OSError):
                raise _timeout() from None
            if not line.endswith(b"\n"):
                raise _Refused(400, "IncompleteBody", "The chunked body ended early")
            return line.rstrip(b"\r\n")

        def _read(self, length: int) -> bytes:
            try:
                return bytes(self.rfile.read(length))
            except (TimeoutError, OSError):
                raise _timeout() from None

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """http.server's own refusals (a garbled request line, bad headers) as EC2's
            error document, always a 4xx."""
            self.close_connection = True
            self.request_version = "HTTP/1.1"  # a garbled line reads as HTTP/0.9: no headers
            status = code if 400 <= code < 500 else 400
            text = message or self.responses.get(code, ("Bad request",))[0]
            with contextlib.suppress(OSError):
                self._send(error_response(status, "MalformedRequest", text))

        def _send(self, response: HttpResponse) -> None:
            data = response.body.encode("utf-8")
            self.send_response(response.status)
            self.send_header("Content-Type", "text/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler


def auth_required(host: str, require_auth: bool) -> bool:
    """Keys and signatures are checked when asked, and always beyond loopback."""
    return require_auth or not is_loopback(host)


def make_server(
    lab: PersistentLab, host: str, port: int, require_auth: bool, log: bool = False
) -> ThreadingHTTPServer:
    handler = make_handler(Api(lab), auth_required(host, require_auth), log)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(lab: PersistentLab, host: str, port: int, require_auth: bool) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    try:
        server = make_server(lab, host, port, require_auth, log=True)
    except OSError as err:
        raise HarnessError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    bound_host, bound_port = server.server_address[:2]
    auth = (
        "SigV4 with keys from 'sgh key add'"
        if auth_required(host, require_auth)
        else "key id = account (12 digits) or a key from 'sgh key add'"
    )
    print(
        f"sgh serve: EC2 Query API for lab '{lab.name}' on http://{bound_host!s}:{bound_port}/ "
        f"(auth: {auth}; instances run in {lab.region}, other regions are control plane only)",
        flush=True,
    )
    return until_interrupted(server, "sgh serve")
