"""Reconciliation on the fake runtime: each way a lab drifts from its state, and its repair."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from harness.adapters.fake_runtime import FakeRuntime
from harness.core.ec2 import platform as platforms
from harness.core.ec2 import rules as rulebook
from harness.core.model import GroupKey, Host, Instance, Protocol
from harness.core.phases import QUIET
from harness.core.reconcile import Applied, plan
from harness.core.runtime import SWITCH, LabKind, LabRef
from harness.formats import topology_file
from harness.lab.lifecycle import Reconciled, reconcile

ROOT = Path(__file__).resolve().parents[2]
TOPO = topology_file.load(ROOT / "topologies/three-tier.yaml")
LAB = LabRef("three-tier", LabKind.PERSISTENT)
APACHE = GroupKey("111122223333", "apache")
WEB = sorted(i.name for i in TOPO.instances if APACHE in i.groups)
APPS = sorted(i.name for i in TOPO.instances if i.name.startswith("app-"))


def built() -> tuple[FakeRuntime, Reconciled]:
    runtime = FakeRuntime()
    done = reconcile(runtime, LAB, TOPO, {}, QUIET)
    runtime.events.clear()
    return runtime, done


def again(runtime: FakeRuntime, done: Reconciled, deep: bool = True) -> Reconciled:
    runtime.events.clear()
    return reconcile(runtime, LAB, TOPO, done.applied, QUIET, deep=deep)


def in_state(runtime: FakeRuntime) -> None:
    """The lab is exactly its state: every node running, plugged, with its policy."""
    nodes = runtime.nodes(LAB)
    assert set(nodes) == {SWITCH, *(n.name for n in TOPO.nodes)}
    for node in TOPO.nodes:
        held = nodes[node.name]
        assert held.running and held.addresses == {node.address}
        assert set(TOPO.subnets()) <= held.routes
        if isinstance(node, Instance):
            assert held.policy.startswith(f"# sg-harness policy for {node.name} ")


def test_a_new_lab_is_built_in_the_safe_order() -> None:
    runtime = FakeRuntime()
    done = reconcile(runtime, LAB, TOPO, {}, QUIET)
    kinds = [event.split()[0] for event in runtime.events]
    assert kinds == ["observe", "start", "install", "plug", "wait"]  # policy before the link
    assert done.plan.problems == ()
    in_state(runtime)
    assert set(done.applied) == {SWITCH, *(n.name for n in TOPO.nodes)}


def test_nothing_to_do_when_the_lab_is_its_state() -> None:
    runtime, done = built()
    after = again(runtime, done)
    assert after.plan.empty and after.plan.problems == ()
    assert runtime.events == ["observe"]


def test_a_container_that_died_is_started_again_with_its_policy() -> None:
    runtime, done = built()
    runtime.kill(LAB, "app-2")
    after = again(runtime, done)
    assert after.plan.remove == ("app-2",)
    assert [node.name for node in after.plan.start] == ["app-2"]
    assert list(after.plan.install) == ["app-2"]
    assert "app-2: its container is not running" in after.plan.problems
    in_state(runtime)


def test_a_missing_container_is_started() -> None:
    runtime, done = built()
    runtime.lose(LAB, "web-4")
    after = again(runtime, done)
    assert after.plan.remove == ()
    assert [node.name for node in after.plan.start] == ["web-4"]
    assert "web-4: its container is missing" in after.plan.problems
    in_state(runtime)


def test_an_extra_labelled_container_is_removed() -> None:
    runtime, done = built()
    runtime.add_stray(LAB, "i-deadbeef")
    after = again(runtime, done)
    assert after.plan.remove == ("i-deadbeef",) and after.plan.start == ()
    in_state(runtime)


def test_a_container_never_plugged_in_is_started_again() -> None:
    # what an interrupted launch leaves: a running container without its link
    runtime, done = built()
    runtime.unplug(LAB, "db-1")
    after = again(runtime, done)
    assert after.plan.remove == ("db-1",)
    assert "db-1: not plugged into the lab's fabric" in after.plan.problems
    in_state(runtime)


def test_a_lost_switch_plugs_every_node_again() -> None:
    runtime, done = built()
    runtime.lose(LAB, SWITCH)
    after = again(runtime, done)
    assert after.plan.start_switch
    assert len(after.plan.remove) == len(TOPO.nodes)
    assert len(after.plan.start) == len(TOPO.nodes)
    in_state(runtime)


def test_a_policy_changed_by_hand_is_installed_again_on_a_deep_look_only() -> None:
    runtime, done = built()
    runtime.tamper(LAB, "app-1", "table inet sgh { }")
    shallow = again(runtime, done, deep=False)
    assert shallow.plan.install == {}  # changes trust the record of what was installed
    deep = again(runtime, done, deep=True)
    assert list(deep.plan.install) == ["app-1"]
    assert "app-1: its nftables policy is not the one installed" in deep.plan.problems
    assert deep.plan.remove == () and deep.plan.start == ()
    in_state(runtime)


def test_a_flushed_policy_is_installed_again() -> None:
    runtime, done = built()
    runtime.tamper(LAB, "web-1", "")
    assert list(again(runtime, done).plan.install) == ["web-1"]


def test_a_rule_change_touches_only_the_group_members() -> None:
    runtime, done = built()
    group = TOPO.group(APACHE)
    extra = rulebook.make_rule(
        platforms.CLASSIC,
        Protocol.TCP,
        22,
        22,
        cidr=rulebook.parse_cidr("203.0.113.19/32", platforms.CLASSIC),
    )
    changed = replace(
        TOPO,
        groups=tuple(rulebook.authorize(g, [extra]) if g is group else g for g in TOPO.groups),
    )
    after = reconcile(runtime, LAB, changed, done.applied, QUIET)
    # apache's members change; the app servers keep the same set of apache addresses
    assert sorted(after.plan.install) == WEB
    assert "tcp dport 22 accept" in runtime.nodes(LAB)["web-3"].policy
    assert after.plan.start == () and after.plan.remove == ()
    unchanged = reconcile(runtime, LAB, changed, after.applied, QUIET)
    assert unchanged.plan.install == {}


def test_a_new_member_touches_the_holders_of_its_group_set() -> None:
    runtime, done = built()
    web = next(i for i in TOPO.instances if i.name == "web-1")
    new = replace(web, name="web-8", address=IPv4Address("10.254.0.200"))
    grown = replace(TOPO, instances=(*TOPO.instances, new))
    after = reconcile(runtime, LAB, grown, done.applied, QUIET)
    assert [node.name for node in after.plan.start] == ["web-8"]
    # the new web server's own policy, and every app server's set of apache addresses
    assert sorted(after.plan.install) == sorted(["web-8", *APPS])
    assert after.plan.wait == (new,)


def test_a_host_in_a_new_subnet_gives_the_others_a_route() -> None:
    runtime, done = built()
    host = Host("mary", IPv4Address("192.0.2.9"))
    grown = replace(TOPO, hosts=(*TOPO.hosts, host))
    after = reconcile(runtime, LAB, grown, done.applied, QUIET)
    assert [node.name for node in after.plan.start] == ["mary"]
    assert len(after.plan.route) == len(TOPO.nodes)
    assert after.plan.install == {}


@pytest.mark.parametrize("pid_changed", [True, False])
def test_a_restarted_container_gets_its_policy(pid_changed: bool) -> None:
    runtime, done = built()
    applied = dict(done.applied)
    old = applied["web-2"]
    applied["web-2"] = Applied(old.pid + 1 if pid_changed else old.pid, old.digest, old.listing)
    observed = runtime.observe(LAB, policies=False)
    steps = plan(TOPO, observed, applied)
    assert list(steps.install) == (["web-2"] if pid_changed else [])
    restarted = ("web-2: its container restarted since its policy was installed",)
    assert steps.problems == (restarted if pid_changed else ())


def test_a_node_running_with_no_policy_recorded_is_a_problem_and_gets_one() -> None:
    runtime, done = built()  # as when a launch is killed after starting, before recording
    applied = {name: a for name, a in done.applied.items() if name != "web-2"}
    steps = plan(TOPO, runtime.observe(LAB, policies=False), applied)
    assert list(steps.install) == ["web-2"]
    assert steps.problems == ("web-2: running, but no policy is recorded as installed on it",)


def test_a_node_added_by_a_change_is_started_without_a_problem() -> None:
    runtime, done = built()
    bigger = replace(TOPO, hosts=(*TOPO.hosts, Host("monitor", IPv4Address("203.0.113.77"))))
    after = reconcile(runtime, LAB, bigger, done.applied, QUIET)
    assert [node.name for node in after.plan.start] == ["monitor"]
    assert after.plan.problems == ()  # 'sgh host add' repairs nothing: it adds
