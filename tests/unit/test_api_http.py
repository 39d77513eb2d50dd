"""The Query API's HTTP layer: malformed, random and stalled requests get a 4xx with EC2's
error document, never a 5xx or a hang (over a real socket, and through ``handle`` directly)."""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.adapters.sqlite_store import Home
from harness.faces import query_api
from harness.faces.query_api import ACTIONS, Api, HttpRequest, handle, make_server
from harness.lab.persistent import PersistentLab

ACCOUNT = "111122223333"
KEY = f"AWSAccessKeyId={ACCOUNT}"
KEYB = KEY.encode()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PersistentLab]:
    lab = PersistentLab(Home(tmp_path), "http", create=True)
    yield lab
    lab.close()


@pytest.fixture
def server(lab: PersistentLab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(query_api.server, "READ_TIMEOUT", 0.5)
    server = make_server(lab, "127.0.0.1", 0, False)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def exchange(server: Any, raw: bytes, wait: float = 5.0) -> tuple[int, str]:
    """Send raw bytes, read the answer until the server closes or answers in full."""
    with socket.create_connection(server.server_address[:2], timeout=wait) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, body.decode()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def valid_query() -> bytes:
    return f"Action=DescribeSecurityGroups&Version=2016-11-15&{KEY}".encode()


def ok_after(server: Any) -> None:
    """The server still answers a good request at once."""
    status, body = exchange(
        server,
        b"GET /?" + valid_query() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert status == 200, body


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FROB"])
def test_other_methods_are_405_with_ec2_error_xml(server: Any, method: str) -> None:
    status, body = exchange(server, f"{method} / HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 405
    assert "<Code>MethodNotAllowed</Code>" in body and "<RequestID>" in body
    ok_after(server)


def test_a_body_shorter_than_announced_is_dropped_after_the_timeout(server: Any) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nAction=Desc"
    status, body = exchange(server, raw)
    assert status == 408 and "<Code>RequestTimeout</Code>" in body
    ok_after(server)


def test_a_client_that_sends_nothing_does_not_hold_a_thread(server: Any) -> None:
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost")
        assert sock.recv(100) == b""  # closed by the server after its read timeout
    ok_after(server)


def _pipelined(server: Any, raw: bytes) -> list[bytes]:
    """Send requests on one connection (the last with Connection: close), read every answer."""
    with socket.create_connection(server.server_address[:2], timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"HTTP/1.1 ")[1:]


def test_a_chunked_body_is_read_and_never_taken_for_the_next_request(server: Any) -> None:
    form = valid_query()
    half = len(form) // 2
    chunked = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        + f"{half:x}\r\n".encode()
        + form[:half]
        + b"\r\n"
        + f"{len(form) - half:x};ext=1\r\n".encode()
        + form[half:]
        + b"\r\n"
        + b"0\r\nX-Trailer: t\r\n\r\n"
    )
    last = b"GET /?" + form + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answers = _pipelined(server, chunked + last)
    assert len(answers) == 2, answers
    for answer in answers:
        assert answer.startswith(b"200 "), answer
        assert b"<DescribeSecurityGroupsResponse" in answer


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"zz\r\nAction\r\n0\r\n\r\n", 400, "MalformedRequest"),
        (b"40\r\nAction\r\n", 408, "RequestTimeout"),  # a short chunk: waited for
    ],
)
def test_a_broken_chunked_body_is_refused_and_the_connection_closed(
    server: Any, body: bytes, status: int, code: str
) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    answers = _pipelined(server, raw + b"GET / HTTP/1.1\r\n\r\n")
    assert len(answers) == 1, answers  # the connection closed: nothing read as a request
    assert answers[0].startswith(f"{status} ".encode())
    assert f"<Code>{code}</Code>".encode() in answers[0]
    assert b"Connection: close" in answers[0]
    ok_after(server)


def test_a_get_with_a_body_does_not_make_the_body_a_request(server: Any) -> None:
    junk = b"GET /?Action=CreateSecurityGroup HTTP/1.1\r\n\r\n"
    first = (
        b"GET /?"
        + valid_query()
        + b" HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {len(junk)}\r\nConnection: close\r\n\r\n".encode()
        + junk
    )
    answers = _pipelined(server, first)
    assert len(answers) == 1, answers  # one request: its body read as its form
    assert b"CreateSecurityGroupResponse" not in answers[0]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\x00\xff\xfegarbage\r\n\r\n", "MalformedRequest"),
        (b"GET / HTTP/9.9\r\n\r\n", "MalformedRequest"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", "MalformedRequest"),
        (b"POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n", "InvalidParameterValue"),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", "RequestEntityTooLarge"),
        (
            b"GET /?Action=Frobnicate&Version=2016-11-15&" + KEYB + b" HTTP/1.1\r\n\r\n",
            "InvalidAction",
        ),
        (b"GET /?Action=DescribeSecurityGroups&" + KEYB + b" HTTP/1.1\r\n\r\n", "MissingParameter"),
    ],
)
def test_garbage_is_a_4xx_with_ec2_error_xml(server: Any, raw: bytes, code: str) -> None:
    status, body = exchange(server, raw)
    assert 400 <= status < 500, (status, body)
    assert f"<Code>{code}</Code>" in body
    ok_after(server)


PARAM_NAMES = [
    "GroupName",
    "GroupId",
    "GroupDescription",
    "Description",
    "IpProtocol",
    "FromPort",
    "ToPort",
    "CidrIp",
    "SourceSecurityGroupName",
    "SourceSecurityGroupOwnerId",
    "ImageId",
    "MinCount",
    "MaxCount",
    "InstanceType",
    "InstanceId.1",
    "GroupId.1",
    "GroupName.1",
    "Filter.1.Name",
    "Filter.1.Value.1",
    "IpPermissions.1.IpProtocol",
    "IpPermissions.1.FromPort",
    "IpPermissions.1.ToPort",
    "IpPermissions.1.IpRanges.1.CidrIp",
    "IpPermissions.1.Groups.1.GroupName",
    "IpPermissions.1.Groups.1.UserId",
    "SecurityGroupId.1",
    "SecurityGroup.1",
    "Version",
]
VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "-1",
            "0",
            "65535",
            "65536",
            "tcp",
            "udp",
            "icmp",
            "10.0.0.0/8",
            "default",
            "sg-00000000",
            "ami-fba54092",
            "i-00000000",
            "1",
            "300",
        ]
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from([*ACTIONS, "", "Nope"]),
    params=st.dictionaries(st.sampled_from(PARAM_NAMES), VALUES, max_size=8),
    method=st.sampled_from(["GET", "POST"]),
)
def test_random_parameter_values_never_give_a_5xx(
    lab: PersistentLab, action: str, params: dict[str, str], method: str
) -> None:
    form = {"Version": "2016-11-15", **params, "Action": action, "AWSAccessKeyId": ACCOUNT}
    body = urllib.parse.urlencode(form).encode()
    request = (
        HttpRequest("POST", "/", {}, body)
        if method == "POST"
        else HttpRequest("GET", "/?" + body.decode(), {})
    )
    response = handle(Api(lab), False, request)
    assert response.status == 200 or 400 <= response.status < 500, response.body
    assert response.body.startswith("<?xml")
