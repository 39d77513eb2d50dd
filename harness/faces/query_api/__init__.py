"""The EC2 Query API of a persistent lab (``sgh serve``), for boto3, the AWS CLI and curl.

Requests are form-encoded (POST body or query string) with ``Action`` and ``Version``
(boto3's ``2016-11-15`` and the seed era's ``2012-05-01`` alike); answers are EC2's XML
shapes, errors EC2's error document with HTTP 400 (401 for ``AuthFailure``).

The access key id of a request picks the account: a key made by ``sgh key add`` is its
account, and, unless authentication is required, a 12-digit key id is that account (as
LocalStack does). With ``--require-auth``, and whenever the server binds beyond loopback, only
keys made by ``sgh key add`` are accepted and their SigV4 signatures are verified.

The actions are the action layer's (:mod:`harness.core.ec2.actions`, one for every door); each
call goes through the same lab as the ``ec2-*`` commands, and its effect is enforced on the
lab before the answer is sent.

Modules, one concern each: ``wire`` (the form read and the answer written through botocore's
model of EC2), ``api`` (this door into the action layer: DryRun, regions, the lab's lock),
``responses`` (EC2's XML documents), ``auth`` (keys and SigV4), ``server`` (a socket-free
``handle`` and the HTTP shim).
"""

from harness.faces.query_api.api import ACTIONS, Api
from harness.faces.query_api.auth import HttpRequest, authenticate
from harness.faces.query_api.server import (
    HttpResponse,
    auth_required,
    handle,
    make_server,
    serve,
)

__all__ = [
    "ACTIONS",
    "Api",
    "HttpRequest",
    "HttpResponse",
    "auth_required",
    "authenticate",
    "handle",
    "make_server",
    "serve",
]
