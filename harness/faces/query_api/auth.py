"""Who calls: the account of a request's key, and SigV4 signatures checked with botocore."""

from __future__ import annotations

import hmac
import re
import time
from calendar import timegm
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

from harness.errors import AuthFailure
from harness.lab.persistent import PersistentLab

Params = dict[str, str]

ACCOUNT_KEY_RE = re.compile(r"^\d{12}$")
CREDENTIAL_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$"
)
MAX_SKEW = 15 * 60


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


def request_region(request: HttpRequest) -> str | None:
    """The region a request is signed for (its credential scope), if it says."""
    match = CREDENTIAL_RE.match(request.headers.get("authorization", "").strip())
    if match is not None:
        return match.group(3)
    scope = request.params.get("X-Amz-Credential", "").split("/")
    return scope[2] if len(scope) == 5 else None


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
