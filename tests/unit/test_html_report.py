"""The HTML report's page, without a browser: self-contained, every text escaped, its data the
same document ``--json`` writes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from harness.adapters.fake_runtime import FakeRuntime
from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.core.model import Probe, Protocol, State
from harness.core.phases import QUIET
from harness.core.planner import Cell
from harness.formats import topology_file
from harness.formats.html_report import matrix_page
from harness.formats.matrix_report import to_json
from harness.lab.one_shot import verify

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = '<script>alert("x")</script> & </script><b>'


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = dict(attrs).get("id")

    def handle_data(self, data: str) -> None:
        if self._in:
            self.data[self._in] = self.data.get(self._in, "") + data


def page_of_a_run() -> tuple[str, dict[str, object]]:
    topology = topology_file.load(ROOT / "topologies/three-tier.yaml")
    groups = tuple(
        replace(g, description=HOSTILE) if g.name == "apache" else g for g in topology.groups
    )
    topology = replace(topology, groups=groups)
    wrong = Cell("internet", "app-3", Probe(Protocol.TCP, 8080))
    prober = SimulatedProber(topology, {wrong: [State.OPEN, State.OPEN]})
    document = to_json(verify(topology, FakeRuntime(), prober, QUIET))
    return matrix_page(document), document


def test_the_page_is_self_contained_and_escapes_every_text() -> None:
    html, document = page_of_a_run()
    parsed = Collect()
    parsed.feed(html)
    # nothing is fetched: no src, no href, no url(), and a policy that forbids it anyway
    assert not [attrs for _, attrs in parsed.tags if "src" in attrs or "href" in attrs]
    assert "url(" not in html and "http://" not in html and "https://" not in html
    policy = next(a["content"] for t, a in parsed.tags if a.get("http-equiv"))
    assert policy is not None and policy.startswith("default-src 'none'")
    # the hostile description is text in the table and inert in the data
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;/script&gt;&lt;b&gt;" in html
    assert [tag for tag, _ in parsed.tags].count("script") == 2  # the data and the code
    data = json.loads(parsed.data["data"])
    assert data["mode"] == "matrix"
    assert len(data["rows"]) == 31 and len(data["cols"]) == 29
    assert len(data["probes"]) == len(document["cells"])  # type: ignore[arg-type]
    wrong = [p for p in data["probes"] if p[4] != p[5]]
    assert [(data["rows"][p[0]]["name"], data["cols"][p[1]]["name"], p[2]) for p in wrong] == [
        ("internet", "app-3", "tcp/8080")
    ]
    assert "1 incorrect" in parsed.data["summary"]
    assert re.search(r'class="summary bad"', html)
