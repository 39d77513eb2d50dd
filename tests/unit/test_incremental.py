"""Changes proven incrementally: after a change, only the pairs it can affect are planned and
probed again, the rest carried over; the result is the full re-probe's, cell for cell, on
generated changes of generated and shipped labs (a prober that answers as the rules say, so
that a cell carried over with a verdict the change altered shows up as a difference)."""

from __future__ import annotations

import sys
from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.core.incremental import affected
from harness.core.matrix import Matrix, expectations
from harness.core.model import GroupKey, Instance, Protocol, Rule, Topology
from harness.core.phases import QUIET
from harness.core.runtime import LabNamespaces
from harness.formats import topology_file
from harness.lab.measure import probe_matrix, reprove

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from big_lab import big_lab  # noqa: E402


def load(name: str) -> Topology:
    if name.startswith("big-"):
        import yaml

        path = Path(f"/tmp/sgh-test-{name}.yaml")
        path.write_text(yaml.safe_dump(big_lab(int(name[4:]), 5), sort_keys=False))
        return topology_file.load(path)
    return topology_file.load(ROOT / "topologies" / name)


def namespaces(topology: Topology) -> LabNamespaces:
    return LabNamespaces("x", {node.name: 1000 + i for i, node in enumerate(topology.lab_nodes)})


def cells(matrix: Matrix) -> dict[object, tuple[object, ...]]:
    return {
        r.cell: (r.expected.state, r.expected.allowed_by, r.expected.why, r.observed.state)
        for r in matrix.results
    }


def proven(topology: Topology, *, classes: bool = False) -> Matrix:
    return probe_matrix(
        topology, namespaces(topology), SimulatedProber(topology), QUIET, classes=classes
    )


def with_rule(topology: Topology, group: int, rule: Rule) -> Topology:
    groups = list(topology.groups)
    groups[group] = replace(groups[group], rules=(*groups[group].rules, rule))
    return replace(topology, groups=tuple(groups))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_one_rule_change_reprobes_only_the_pairs_it_can_affect(workers: int) -> None:
    """In one process and shared out over workers (a big lab's way)."""
    before = load("big-60")
    first = proven(before, classes=True)
    g3 = next(g for g in before.groups if g.name == "g3")
    g1 = next(g for g in before.groups if g.name == "g1")
    after = with_rule(before, before.groups.index(g3), Rule(Protocol.TCP, 5432, 5432, group=g1.key))
    prober = SimulatedProber(after)
    again = reprove(after, namespaces(after), prober, QUIET, first, runtime="fake", workers=workers)
    members = {i.name for i in after.members[g3.key]}
    sources = {i.name for i in after.members[g1.key]}
    table, since = again.table, max(first.table.times)
    probed = [r.cell for i, r in enumerate(table) if table.times[table.proven[i]] > since]
    assert {(c.source, c.target) for c in probed} == {
        (s, t) for s in sources for t in members if s != t
    }
    assert again.carried == len(again.results) - len(probed) > 10 * len(probed)
    assert cells(again) == cells(proven(after, classes=True))
    assert again.plan == "classes"


def test_nothing_changed_probes_nothing_and_carries_every_cell() -> None:
    topology = load("three-tier.yaml")
    first = proven(topology)
    prober = SimulatedProber(topology)
    again = reprove(topology, namespaces(topology), prober, QUIET, first, runtime="fake")
    assert prober.rounds in ([], [[]])
    assert again.carried == len(again.results) == len(first.results)
    assert list(again.table.proven) == list(first.table.proven)  # the times proven, kept


def test_a_restarted_node_and_a_wrong_cell_are_probed_again() -> None:
    topology = load("three-tier.yaml")
    first = proven(topology)
    lab = namespaces(topology)
    lab = LabNamespaces(lab.name, {**lab.pids, "web-1": 99})  # web-1's process is new
    prober = SimulatedProber(topology)
    reprove(topology, lab, prober, QUIET, first, runtime="fake")
    assert {c.source for c in prober.rounds[0]} | {c.target for c in prober.rounds[0]} >= {"web-1"}
    assert all("web-1" in (c.source, c.target) for c in prober.rounds[0])


CHANGES = st.sampled_from(["add rule", "drop rule", "membership", "terminate", "launch", "route"])


def changed(topology: Topology, kind: str, pick: st.DataObject) -> Topology:
    """The topology with one change of ``kind``, its details drawn."""
    groups = list(topology.groups)
    instances = list(topology.instances)
    if kind == "add rule":
        index = pick.draw(st.integers(0, len(groups) - 1))
        port = pick.draw(st.sampled_from([22, 443, 8001, 8080, 3306, 5432, 9999]))
        peer = pick.draw(st.sampled_from(["group", "cidr", "host"]))
        source = pick.draw(st.sampled_from(groups)).key if peer == "group" else None
        cidr = None
        if peer != "group":
            node = pick.draw(st.sampled_from(topology.nodes))
            cidr = ip_network(f"{node.address}/{24 if peer == 'cidr' else 32}", strict=False)
        return with_rule(topology, index, Rule(Protocol.TCP, port, port, cidr=cidr, group=source))
    if kind == "drop rule":
        ruled = [i for i, g in enumerate(groups) if g.rules]
        index = pick.draw(st.sampled_from(ruled))
        rules = list(groups[index].rules)
        del rules[pick.draw(st.integers(0, len(rules) - 1))]
        groups[index] = replace(groups[index], rules=tuple(rules))
        return replace(topology, groups=tuple(groups))
    if kind == "membership":
        index = pick.draw(st.integers(0, len(instances) - 1))
        instance = instances[index]
        vpc = _vpc_of(topology, instance)
        same_vpc = [g.key for g in groups if g.vpc == vpc]
        new = (pick.draw(st.sampled_from(same_vpc)),)
        instances[index] = _regrouped(instance, new)
        return replace(topology, instances=tuple(instances))
    if kind == "terminate":
        del instances[pick.draw(st.integers(0, len(instances) - 1))]
        return replace(topology, instances=tuple(instances))
    if kind == "launch":
        model = instances[pick.draw(st.integers(0, len(instances) - 1))]
        network = (
            topology.subnets_by_name[model.interfaces[0].subnet].cidr
            if model.interfaces
            else topology.subnet
        )
        used = {a for node in topology.lab_nodes for a in _addresses(node)}
        address = next(a for a in list(network.hosts())[10:] if a not in used)
        nics = tuple(replace(nic, address=address, public=None) for nic in model.interfaces[:1])
        launched = replace(
            model, name=f"launched-{len(instances)}", address=address, interfaces=nics
        )
        return replace(topology, instances=(*instances, launched))
    vpcs = list(topology.vpcs)
    tables = [(v, t) for v, vpc in enumerate(vpcs) for t, table in enumerate(vpc.route_tables)]
    if not tables:
        return changed(topology, "add rule", pick)
    v, t = pick.draw(st.sampled_from(tables))
    table = vpcs[v].route_tables[t]
    routes = table.routes[1:] if table.routes else ()
    route_tables = list(vpcs[v].route_tables)
    route_tables[t] = replace(table, routes=routes)
    vpcs[v] = replace(vpcs[v], route_tables=tuple(route_tables))
    return replace(topology, vpcs=tuple(vpcs))


def _vpc_of(topology: Topology, instance: Instance) -> str | None:
    if not instance.interfaces:
        return None
    return topology.subnets_by_name[instance.interfaces[0].subnet].vpc


def _addresses(node: object) -> list[object]:
    nics = getattr(node, "interfaces", ())
    return [getattr(node, "address", None), *(nic.address for nic in nics)]


def _regrouped(instance: Instance, groups: tuple[GroupKey, ...]) -> Instance:
    if not instance.interfaces:
        return replace(instance, groups=groups)
    nics = (replace(instance.interfaces[0], groups=groups), *instance.interfaces[1:])
    return replace(instance, interfaces=nics)


BASES = {name: load(name) for name in ("three-tier.yaml", "vpc-full-path.yaml", "big-24")}
FIRST = {
    (name, classes): proven(topology, classes=classes)
    for name, topology in BASES.items()
    for classes in (False, True)
}


def classes_by_pair(matrix: Matrix) -> dict[tuple[str, str], set[tuple[object, ...]]]:
    """Each pair's behaviour classes, as the verdicts that tell them apart."""
    found: dict[tuple[str, str], set[tuple[object, ...]]] = {}
    for r in matrix.results:
        key = (r.cell.source, r.cell.target)
        found.setdefault(key, set()).add((r.cell.address, r.expected.state, r.expected.allowed_by))
    return found


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(BASES)),
    kinds=st.lists(CHANGES, min_size=1, max_size=3),
    classes=st.booleans(),
    pick=st.data(),
)
def test_an_incremental_proof_is_the_full_reprobe(
    name: str, kinds: list[str], classes: bool, pick: st.DataObject
) -> None:
    """The full plan's cells are the full re-probe's, one for one; the classes plan's are
    each as the rules now say, and each pair has the classes a full re-probe finds (a pair
    the change cannot affect keeps the ports it was proven on, which still stand for its
    classes)."""
    before = BASES[name]
    after = before
    for kind in kinds:
        after = changed(after, kind, pick)
    first = FIRST[(name, classes)]
    again = reprove(after, namespaces(after), SimulatedProber(after), QUIET, first, runtime="fake")
    full = proven(after, classes=classes)
    assert not affected(before, after, classes=classes).everything
    if not classes:
        assert cells(again) == cells(full)
        return
    now = expectations(after, [r.cell for r in again.results])
    assert all(now[r.cell] == r.expected for r in again.results)
    assert all(r.correct for r in again.results)
    assert classes_by_pair(again) == classes_by_pair(full)
