from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.model import (
    Group,
    GroupKey,
    Host,
    Instance,
    Listen,
    Probe,
    Protocol,
    Rule,
    State,
    Topology,
)
from harness.core.oracle import Oracle
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"


def test_three_tier_cells() -> None:
    topo = topology_file.load(ROOT / "topologies/three-tier.yaml")
    oracle = Oracle(topo)
    nodes = topo.nodes_by_name

    def verdict(src: str, dst: str, probe: Probe) -> State:
        target = nodes[dst]
        assert isinstance(target, Instance)
        return oracle.evaluate(nodes[src], target, probe).state

    def tcp(port: int) -> Probe:
        return Probe(Protocol.TCP, port)

    assert verdict("internet", "web-1", tcp(80)) is State.OPEN
    assert verdict("internet", "web-1", tcp(22)) is State.FILTERED
    assert verdict("internet", "web-1", tcp(81)) is State.FILTERED
    assert verdict("web-1", "app-1", tcp(8080)) is State.OPEN
    assert verdict("web-1", "app-1", tcp(9)) is State.CLOSED
    assert verdict("web-1", "app-1", Probe(Protocol.ICMP, None)) is State.OPEN
    assert verdict("app-1", "app-2", tcp(8080)) is State.FILTERED
    assert verdict("app-1", "db-1", tcp(3306)) is State.OPEN
    assert verdict("web-1", "db-1", tcp(3306)) is State.FILTERED
    why = oracle.evaluate(nodes["internet"], nodes["web-2"], tcp(80)).why  # type: ignore[arg-type]
    assert why == "apache: tcp 80 from 0.0.0.0/0"
    why = oracle.evaluate(nodes["internet"], nodes["web-2"], tcp(22)).why  # type: ignore[arg-type]
    assert why == "no rule of apache allows tcp 22 from internet (198.51.100.10)"


def test_icmp_type_and_code_matching() -> None:
    echo = Probe(Protocol.ICMP, None)
    assert Rule(Protocol.ICMP, 8, -1, IPv4Network("0.0.0.0/0")).covers(echo.protocol, None)
    assert Rule(Protocol.ICMP, 8, 0, IPv4Network("0.0.0.0/0")).covers(echo.protocol, None)
    assert not Rule(Protocol.ICMP, 0, -1, IPv4Network("0.0.0.0/0")).covers(echo.protocol, None)
    assert not Rule(Protocol.ICMP, 8, 1, IPv4Network("0.0.0.0/0")).covers(echo.protocol, None)


# -- properties ------------------------------------------------------------------------------

SOURCES = [IPv4Network(n) for n in ("0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/29", "203.0.113.7/32")]
GROUPS = [GroupKey(ACCOUNT, name) for name in ("a", "b")]


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    protocol = draw(st.sampled_from(list(Protocol)))
    if protocol is Protocol.ICMP:
        low = draw(st.sampled_from([-1, 0, 8]))
        high = -1 if low == -1 else draw(st.sampled_from([-1, 0]))
    else:
        low = draw(st.integers(0, 100))
        high = draw(st.integers(low, 120))
    if draw(st.booleans()):
        return Rule(protocol, low, high, cidr=draw(st.sampled_from(SOURCES)))
    return Rule(protocol, low, high, group=draw(st.sampled_from(GROUPS)))


def lab(rules_a: list[Rule], rules_b: list[Rule], merged: bool = False) -> Topology:
    """Target 't' is in groups a and b; ``merged`` puts every rule in a and leaves b empty."""
    if merged:
        groups = (Group(GROUPS[0], "a", tuple(rules_a + rules_b)), Group(GROUPS[1], "b", ()))
    else:
        groups = (Group(GROUPS[0], "a", tuple(rules_a)), Group(GROUPS[1], "b", tuple(rules_b)))
    target_groups = (GROUPS[0], GROUPS[1])
    instances = (
        Instance("t", ACCOUNT, target_groups, IPv4Address("10.0.0.5"), (Listen(Protocol.TCP, 50),)),
        Instance("ma", ACCOUNT, (GROUPS[0],), IPv4Address("10.0.0.6")),
        Instance("mb", ACCOUNT, (GROUPS[1],), IPv4Address("10.0.0.7")),
    )
    hosts = (Host("h7", IPv4Address("203.0.113.7")), Host("h9", IPv4Address("203.0.113.9")))
    return Topology("p", ACCOUNT, groups, instances, hosts)


PROBES = [Probe(Protocol.TCP, p) for p in (0, 1, 50, 100, 119)] + [
    Probe(Protocol.UDP, 50),
    Probe(Protocol.ICMP, None),
]


def verdicts(topo: Topology) -> dict[tuple[str, Probe], State]:
    oracle = Oracle(topo)
    target = topo.instances[0]
    sources = [n for n in topo.nodes if n.name not in ("t",)]
    return {(s.name, p): oracle.evaluate(s, target, p).state for s in sources for p in PROBES}


@settings(max_examples=150, deadline=None)
@given(st.lists(rules(), max_size=6), st.lists(rules(), max_size=6), rules())
def test_adding_an_allow_rule_never_removes_an_allowed_cell(
    rules_a: list[Rule], rules_b: list[Rule], extra: Rule
) -> None:
    before = verdicts(lab(rules_a, rules_b))
    after = verdicts(lab([*rules_a, extra], rules_b))
    for key, state in before.items():
        if state is not State.FILTERED:
            assert after[key] is state


@settings(max_examples=150, deadline=None)
@given(st.lists(rules(), max_size=6), st.lists(rules(), max_size=6))
def test_union_over_groups_equals_the_merged_rule_list(
    rules_a: list[Rule], rules_b: list[Rule]
) -> None:
    assert verdicts(lab(rules_a, rules_b)) == verdicts(lab(rules_a, rules_b, merged=True))
