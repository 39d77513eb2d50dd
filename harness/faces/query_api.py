"""The EC2 Query API of a persistent lab (``sgh serve``), for boto3, the AWS CLI and curl.

Requests are form-encoded (POST body or query string) with ``Action`` and ``Version``
(boto3's ``2016-11-15`` and the seed era's ``2012-05-01`` alike); answers are EC2's XML
shapes, errors EC2's error document with HTTP 400 (401 for ``AuthFailure``).

The access key id of a request picks the account: a key made by ``sgh key add`` is its
account, and, unless authentication is required, a 12-digit key id is that account (as
LocalStack does). With ``--require-auth``, and whenever the server binds beyond loopback, only
keys made by ``sgh key add`` are accepted and their SigV4 signatures are verified.

Actions: CreateSecurityGroup, DescribeSecurityGroups, AuthorizeSecurityGroupIngress,
RevokeSecurityGroupIngress, DeleteSecurityGroup, RunInstances, DescribeInstances,
TerminateInstances. Each call goes through the same lab as the ``ec2-*`` commands, and its
effect is enforced on the containers before the answer is sent.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import re
import sys
import threading
import time
import uuid
from calendar import timegm
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree.ElementTree import Element, tostring

from harness.core import control_plane, ec2_rules
from harness.core.control_plane import STATE_CODES, Cloud, InstanceRecord, Permission
from harness.core.model import Group
from harness.core.phases import QUIET
from harness.errors import AuthFailure, Ec2Error, HarnessError, InvalidInput
from harness.formats.ec2_tools_text import AVAILABILITY_ZONE
from harness.lab.persistent import PersistentLab, new_id, now

VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ACCOUNT_KEY_RE = re.compile(r"^\d{12}$")
CREDENTIAL_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$"
)
MAX_SKEW = 15 * 60
MAX_BODY = 1 << 20
READ_TIMEOUT = 5.0

Params = dict[str, str]


# -- request parameters -------------------------------------------------------------------------


def indexed(params: Params, prefix: str) -> dict[int, Params]:
    """``Prefix.N.Rest=value`` as ``{N: {Rest: value}}`` (in index order)."""
    found: dict[int, Params] = {}
    head = prefix + "."
    for key, value in params.items():
        if not key.startswith(head):
            continue
        number, _, rest = key[len(head) :].partition(".")
        if not number.isdigit():
            raise Ec2Error("InvalidParameterValue", f"Invalid parameter {key}")
        found.setdefault(int(number), {})[rest] = value
    return dict(sorted(found.items()))


def listed(params: Params, prefix: str) -> list[str]:
    """``Prefix.1=a&Prefix.2=b`` as ``[a, b]``."""
    return [item[""] for item in indexed(params, prefix).values() if "" in item]


def filters(params: Params) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for item in indexed(params, "Filter").values():
        name = item.get("Name")
        if not name:
            raise Ec2Error(
                "MissingParameter", "The request must contain the parameter Filter.N.Name"
            )
        values = [v for k, v in sorted(item.items(), key=_value_order) if k.startswith("Value.")]
        result.setdefault(name, []).extend(values)
    return result


def _value_order(item: tuple[str, str]) -> tuple[int, str]:
    key = item[0]
    tail = key.rpartition(".")[2]
    return (int(tail) if tail.isdigit() else 0, key)


def _int(params: Params, name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({text}) for parameter {name} is invalid"
        ) from None


def _permission(item: Params, where: str) -> Permission:
    cidrs = tuple(sub["CidrIp"] for sub in indexed(item, "IpRanges").values() if sub.get("CidrIp"))
    groups: list[tuple[str | None, str]] = []
    for sub in indexed(item, "Groups").values():
        ref = sub.get("GroupId") or sub.get("GroupName")
        if not ref:
            raise Ec2Error("MissingParameter", f"{where}.Groups needs a GroupName or a GroupId")
        groups.append((sub.get("UserId") or None, ref))
    protocol = item.get("IpProtocol")
    if not protocol:
        raise Ec2Error(
            "MissingParameter", f"The request must contain the parameter {where}.IpProtocol"
        )
    return Permission(protocol, _int(item, "FromPort"), _int(item, "ToPort"), cidrs, tuple(groups))


LEGACY_CIDR = ("IpProtocol", "FromPort", "ToPort", "CidrIp")
LEGACY_GROUP = ("SourceSecurityGroupName", "SourceSecurityGroupOwnerId")


def permissions(params: Params) -> list[Permission]:
    """The ``IpPermissions.N`` form, or one of the legacy flat forms (never a mix)."""
    structured = indexed(params, "IpPermissions")
    cidr_form = [k for k in LEGACY_CIDR if k in params]
    group_form = [k for k in LEGACY_GROUP if k in params]
    if structured and (cidr_form or group_form):
        raise Ec2Error(
            "InvalidParameterCombination",
            f"The parameter 'IpPermissions' may not be used in combination with "
            f"'{(cidr_form or group_form)[0]}'",
        )
    if structured:
        return [_permission(item, f"IpPermissions.{n}") for n, item in structured.items()]
    if cidr_form and group_form:
        raise Ec2Error(
            "InvalidParameterCombination",
            "Mixing the CIDR form (IpProtocol, FromPort, ToPort, CidrIp) and the user/group "
            "pair form (SourceSecurityGroupName, SourceSecurityGroupOwnerId) is not allowed",
        )
    if group_form:
        name = params.get("SourceSecurityGroupName")
        if not name:
            raise Ec2Error(
                "MissingParameter",
                "The request must contain the parameter SourceSecurityGroupName",
            )
        owner = params.get("SourceSecurityGroupOwnerId") or None
        return [Permission(None, groups=((owner, name),))]
    if cidr_form:
        cidr = params.get("CidrIp")
        return [
            Permission(
                params.get("IpProtocol") or "tcp",
                _int(params, "FromPort"),
                _int(params, "ToPort"),
                (cidr,) if cidr else (),
            )
        ]
    raise ec2_rules.missing_source()


def group_ids(params: Params, prefix: str) -> list[str]:
    return [control_plane.check_group_id(value) for value in listed(params, prefix)]


def target_group(params: Params) -> str:
    if params.get("GroupId"):
        return control_plane.check_group_id(params["GroupId"])
    ref = params.get("GroupName")
    if not ref:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter groupName or groupId"
        )
    return ref


# -- XML ----------------------------------------------------------------------------------------


Content = Element | str | int | IPv4Address | None


def E(tag: str, *content: Content) -> Element:
    """An element with children and text (ElementTree escapes the text)."""
    node = Element(tag)
    for item in content:
        if isinstance(item, Element):
            node.append(item)
        elif item is not None:
            node.text = (node.text or "") + str(item)
    return node


def items(tag: str, members: Iterable[list[Element]]) -> Element:
    """``<tag><item>...</item>...</tag>``: EC2's list shape."""
    return E(tag, *[E("item", *member) for member in members])


def group_xml(group: Group) -> list[Element]:
    perms = []
    for protocol, low, high, rules in control_plane.permissions(group):
        pairs = [
            [
                E("userId", r.group.account),
                E("groupName", r.group.name),
                E("groupId", r.group.group_id),
            ]
            for r in rules
            if r.group is not None
        ]
        ranges = [[E("cidrIp", str(r.cidr))] for r in rules if r.cidr is not None]
        perms.append(
            [
                E("ipProtocol", protocol),
                E("fromPort", low),
                E("toPort", high),
                items("groups", pairs),
                items("ipRanges", ranges),
            ]
        )
    return [
        E("ownerId", group.key.account),
        E("groupId", group.group_id),
        E("groupName", group.name),
        E("groupDescription", group.description),
        items("ipPermissions", perms),
        E("ipPermissionsEgress"),
        E("tagSet"),
    ]


def _group_set(record: InstanceRecord) -> Element:
    return items(
        "groupSet",
        ([E("groupId", key.group_id), E("groupName", key.name)] for key in record.held_groups),
    )


def _time(text: str) -> str:
    return text.replace("+0000", ".000Z")


def instance_xml(record: InstanceRecord, state: str | None = None) -> list[Element]:
    image = control_plane.ami(record.image_id)
    shown = state or record.state
    active = shown != control_plane.TERMINATED
    return [
        E("instanceId", record.instance_id),
        E("imageId", record.image_id),
        E("instanceState", E("code", STATE_CODES[shown]), E("name", shown)),
        E("privateDnsName", record.private_dns),
        E("dnsName"),
        E("reason"),
        E("amiLaunchIndex", record.launch_index),
        E("productCodes"),
        E("instanceType", record.instance_type),
        E("launchTime", _time(record.launch_time)),
        E("placement", E("availabilityZone", AVAILABILITY_ZONE), E("tenancy", "default")),
        E("kernelId", image.kernel),
        E("ramdiskId", image.ramdisk),
        E("monitoring", E("state", "disabled")),
        *([E("privateIpAddress", record.address)] if active else []),
        _group_set(record),
        E("architecture", "x86_64"),
        E("rootDeviceType", "ebs"),
        E("rootDeviceName", "/dev/sda1"),
        E("blockDeviceMapping"),
        E("virtualizationType", "paravirtual"),
        E("hypervisor", "xen"),
    ]


def reservation_xml(records: list[InstanceRecord], state: str | None = None) -> list[Element]:
    first = records[0]
    return [
        E("reservationId", first.reservation_id),
        E("ownerId", first.owner),
        _group_set(first),
        items("instancesSet", (instance_xml(r, state) for r in records)),
    ]


# -- actions ------------------------------------------------------------------------------------


class Api:
    """The actions, over one persistent lab. Calls are serialised (one lab lock anyway)."""

    def __init__(self, lab: PersistentLab) -> None:
        self.lab = lab
        self.guard = threading.Lock()

    def call(self, account: str, action: str, params: Params) -> list[Element]:
        handler = ACTIONS.get(action)
        if handler is None:
            raise Ec2Error(
                "InvalidAction", f"The action {action} is not valid for this web service."
            )
        with self.guard:
            return handler(self, account, params)

    def _act(self, action: Callable[[Cloud], tuple[Cloud, Any]]) -> Any:
        return self.lab.act(action, QUIET)

    def _CreateSecurityGroup(self, account: str, params: Params) -> list[Element]:
        name = params.get("GroupName", "")
        description = params.get("GroupDescription", "")
        group = self._act(lambda c: control_plane.create_group(c, account, name, description))
        return [E("return", "true"), E("groupId", group.group_id)]

    def _DescribeSecurityGroups(self, account: str, params: Params) -> list[Element]:
        refs = listed(params, "GroupName") + group_ids(params, "GroupId")
        chosen = filters(params)
        groups = self.lab.read(lambda c: control_plane.describe_groups(c, account, refs, chosen))
        return [items("securityGroupInfo", (group_xml(g) for g in groups))]

    def _change(self, account: str, params: Params, revoke: bool) -> list[Element]:
        ref = target_group(params)
        wanted = permissions(params)
        change = control_plane.revoke if revoke else control_plane.authorize

        def action(c: Cloud) -> tuple[Cloud, None]:
            rules = control_plane.permission_rules(c, account, wanted)
            new, _, _ = change(c, account, ref, rules)
            return new, None

        self._act(action)
        return [E("return", "true")]

    def _AuthorizeSecurityGroupIngress(self, account: str, params: Params) -> list[Element]:
        return self._change(account, params, revoke=False)

    def _RevokeSecurityGroupIngress(self, account: str, params: Params) -> list[Element]:
        return self._change(account, params, revoke=True)

    def _DeleteSecurityGroup(self, account: str, params: Params) -> list[Element]:
        ref = target_group(params)
        self._act(lambda c: control_plane.delete_group(c, account, ref))
        return [E("return", "true")]

    def _RunInstances(self, account: str, params: Params) -> list[Element]:
        image = params.get("ImageId")
        if not image:
            raise Ec2Error("MissingParameter", "The request must contain the parameter ImageId")
        low = _int(params, "MinCount")
        high = _int(params, "MaxCount")
        if low is None or high is None:
            raise Ec2Error(
                "MissingParameter", "The request must contain the parameters MinCount and MaxCount"
            )
        if low < 1 or high < low:
            raise Ec2Error(
                "InvalidParameterValue",
                f"MinCount ({low}) must be at least 1 and at most MaxCount ({high})",
            )
        refs = listed(params, "SecurityGroup") + group_ids(params, "SecurityGroupId")
        kind = params.get("InstanceType") or control_plane.DEFAULT_TYPE
        records = self._act(
            lambda c: control_plane.run_instances(
                c, account, image, high, refs, now=now(), new_id=new_id, instance_type=kind
            )
        )
        return reservation_xml(records, state=control_plane.PENDING)

    def _DescribeInstances(self, account: str, params: Params) -> list[Element]:
        ids = listed(params, "InstanceId")
        chosen = filters(params)
        records = self.lab.read(lambda c: control_plane.describe_instances(c, account, ids, chosen))
        groups = control_plane.reservations(records)
        return [items("reservationSet", (reservation_xml(group) for group in groups))]

    def _TerminateInstances(self, account: str, params: Params) -> list[Element]:
        ids = listed(params, "InstanceId")
        changes = self._act(lambda c: control_plane.terminate_instances(c, account, ids))
        out = []
        for record, before in changes:
            current = control_plane.terminating(before)
            out.append(
                [
                    E("instanceId", record.instance_id),
                    E("currentState", E("code", STATE_CODES[current]), E("name", current)),
                    E("previousState", E("code", STATE_CODES[before]), E("name", before)),
                ]
            )
        return [items("instancesSet", out)]


ACTIONS: dict[str, Callable[[Api, str, Params], list[Element]]] = {
    "CreateSecurityGroup": Api._CreateSecurityGroup,
    "DescribeSecurityGroups": Api._DescribeSecurityGroups,
    "AuthorizeSecurityGroupIngress": Api._AuthorizeSecurityGroupIngress,
    "RevokeSecurityGroupIngress": Api._RevokeSecurityGroupIngress,
    "DeleteSecurityGroup": Api._DeleteSecurityGroup,
    "RunInstances": Api._RunInstances,
    "DescribeInstances": Api._DescribeInstances,
    "TerminateInstances": Api._TerminateInstances,
}
"""Every action the Query API serves."""


# -- authentication -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @cached_property
    def params(self) -> Params:
        """The form: the query string's pairs, then the body's."""
        pairs = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        if self.body:
            pairs += parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return dict(pairs)


def authenticate(lab: PersistentLab, require_auth: bool, request: HttpRequest) -> str:
    """The account a request acts as, or AuthFailure."""
    headers, params = request.headers, request.params
    header = headers.get("authorization", "")
    if not header:
        key = params.get("AWSAccessKeyId") or params.get("X-Amz-Credential", "").split("/")[0]
        if not key:
            raise AuthFailure("Missing credentials: sign the request (SigV4) with an access key")
        if require_auth:
            raise AuthFailure("This server requires SigV4 Authorization headers")
        return _account_of(lab, key)
    match = CREDENTIAL_RE.match(header.strip())
    if match is None:
        raise AuthFailure("Unsupported Authorization header: expected AWS4-HMAC-SHA256")
    key, day, region, service, signed, signature = match.groups()
    if not require_auth:
        return _account_of(lab, key)
    known = lab.home.key(key)
    if known is None:
        raise AuthFailure("AWS was not able to validate the provided access credentials")
    secret, account = known
    stamp = headers.get("x-amz-date", "")
    try:
        when = timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise AuthFailure("The request must carry a valid X-Amz-Date header") from None
    if abs(time.time() - when) > MAX_SKEW:
        raise AuthFailure("Request has expired (X-Amz-Date is off by more than 15 minutes)")
    if stamp[:8] != day:
        raise AuthFailure("The credential scope's date does not match X-Amz-Date")
    expected = sigv4_signature(
        request, secret=secret, key=key, region=region, service=service, signed=signed.split(";")
    )
    if not hmac.compare_digest(expected, signature):
        raise AuthFailure(
            "The request signature we calculated does not match the signature you provided",
            code="AuthFailure",
        )
    return account


def sigv4_signature(
    http: HttpRequest, *, secret: str, key: str, region: str, service: str, signed: list[str]
) -> str:
    """Recompute a SigV4 signature with botocore's signer over the headers the client signed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = http.headers
    missing = [name for name in signed if name not in headers]
    if missing:
        raise AuthFailure(f"Signed header {missing[0]} is missing from the request")
    request = AWSRequest(
        method=http.method,
        url=f"http://{headers.get('host', 'localhost')}{http.path}",
        headers={name: headers[name] for name in signed},
        data=http.body,
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(key, secret), service, region)
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _account_of(lab: PersistentLab, key: str) -> str:
    known = lab.home.key(key)
    if known is not None:
        return known[1]
    if ACCOUNT_KEY_RE.match(key):
        return key
    raise AuthFailure(
        f"Unknown access key {key}: use a 12-digit account id as the key id, "
        "or a key made with 'sgh key add ACCOUNT'"
    )


# -- HTTP ---------------------------------------------------------------------------------------


def document(root: Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode")


def error_xml(code: str, message: str, request_id: str) -> str:
    return document(
        E(
            "Response",
            E("Errors", E("Error", E("Code", code), E("Message", message))),
            E("RequestID", request_id),
        )
    )


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
        inner = api.call(account, action, params)
    except AuthFailure as err:
        return error_response(err.http_status, err.code, err.message, request_id)
    except Ec2Error as err:
        return error_response(400, err.code, err.message, request_id)
    except InvalidInput as err:
        return error_response(400, "InvalidParameterValue", str(err), request_id)
    except HarnessError as err:
        return error_response(503, "Unavailable", str(err), request_id)
    except Exception as err:  # a bug: answer, and keep serving
        return error_response(500, "InternalError", f"{type(err).__name__}: {err}", request_id)
    root = E(f"{action}Response", E("requestId", request_id), *inner)
    root.set("xmlns", f"http://ec2.amazonaws.com/doc/{version}/")
    return HttpResponse(200, document(root))


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
            body = b""
            if self.command == "POST":
                text = self.headers.get("Content-Length") or "0"
                if not text.isdigit():
                    self.close_connection = True
                    self._send(
                        error_response(
                            400, "InvalidParameterValue", f"Content-Length {text!r} is not a length"
                        )
                    )
                    return
                length = int(text)
                if length > MAX_BODY:
                    self.close_connection = True
                    self._send(error_response(413, "RequestEntityTooLarge", "Body too large"))
                    return
                try:
                    body = self.rfile.read(length)
                except (TimeoutError, OSError):
                    self.close_connection = True
                    self._send(
                        error_response(
                            408,
                            "RequestTimeout",
                            f"The body was not received within {READ_TIMEOUT:g} s",
                        )
                    )
                    return
                if len(body) < length:
                    self.close_connection = True
                    self._send(
                        error_response(
                            400,
                            "IncompleteBody",
                            f"The body has {len(body)} of the {length} bytes announced",
                        )
                    )
                    return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(
                handle(api, require_auth, HttpRequest(self.command, self.path, headers, body))
            )

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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        f"(auth: {auth})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("sgh serve: stopped", flush=True)
    return 0
