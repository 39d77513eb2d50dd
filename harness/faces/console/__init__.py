"""``sgh console``: the seed's third door, the AWS Management Console of 2012, over a
persistent lab: Security Groups, Instances, and a live Reachability map."""

from __future__ import annotations

from werkzeug.serving import make_server

from harness.core.probing import Prober
from harness.errors import HarnessError
from harness.faces.console.app import make_app
from harness.faces.console.context import Console
from harness.faces.console.live import LiveMap
from harness.faces.serving import is_loopback, until_interrupted
from harness.lab.persistent import PersistentLab

DEFAULT_PORT = 8774


def serve(lab: PersistentLab, host: str, port: int, account: str, prober: Prober) -> int:
    """Serve the console until interrupted (Ctrl-C or SIGTERM). Beyond loopback every request
    needs an access key of ``account`` made by ``sgh key add`` (HTTP Basic); on loopback the
    Host header must name the loopback address (no DNS rebinding)."""
    live = LiveMap(lab, prober)
    app = make_app(Console(lab, account, live), host)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as err:
        live.stop()
        raise HarnessError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    shown = f"[{host}]" if ":" in host else host
    auth = (
        "none on loopback"
        if is_loopback(host)
        else f"an access key of account {account} from 'sgh key add' (HTTP Basic)"
    )
    print(
        f"sgh console: lab '{lab.name}' as account {account} on "
        f"http://{shown}:{server.server_port}/ (auth: {auth}; Ctrl-C stops)",
        flush=True,
    )
    try:
        return until_interrupted(server, "sgh console")
    finally:
        live.stop()
