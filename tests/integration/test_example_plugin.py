"""Security groups tested from pytest, with real packets: the example of docs/guide/pytest.md.

Copy this file next to your topology and run pytest; sg-harness's plugin gives the 'lab'
fixture (started once per session and shared by every test of the same topology).
"""

import pytest

from harness.faces.pytest_plugin import SgLab

pytestmark = pytest.mark.sg_topology("topologies/three-tier.yaml")


def test_the_web_tier_is_public_and_nothing_else_is(lab: SgLab) -> None:
    lab.assert_open("internet", "web-1", "tcp/80")
    lab.assert_filtered("internet", "web-1", "tcp/22")
    lab.assert_filtered("internet", "app-1", "tcp/8080")
    lab.assert_filtered("workstation", "db-1", "tcp/3306")


def test_each_tier_reaches_only_the_next(lab: SgLab) -> None:
    lab.assert_open("web-3", "app-7", "tcp/8080")
    lab.assert_closed("web-3", "app-7", "tcp/9999")  # allowed, nothing listens
    lab.assert_open("app-7", "db-2", "tcp/3306")
    lab.assert_filtered("web-3", "db-2", "tcp/3306")


def test_every_cell_matches_the_rules(lab: SgLab) -> None:
    lab.assert_matrix_matches()


def test_the_instance_listens_and_runs_its_compiled_policy(lab: SgLab) -> None:
    host = lab.host("web-1")  # commands run in web-1's network namespace
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert not host.socket("tcp://0.0.0.0:8080").is_listening
    installed = host.run("nft -s list table inet sgh")
    assert installed.rc == 0
    assert installed.stdout == lab.compiled_listing("web-1")


@pytest.mark.sg_mutates  # a fresh lab of its own: the change does not leak into other tests
def test_a_policy_changed_by_hand_is_caught(lab: SgLab) -> None:
    lab.host("web-1").run_expect([0], "nft flush chain inet sgh input")
    lab.assert_filtered("internet", "web-1", "tcp/80")


@pytest.mark.sg_mutates
def test_a_rule_authorized_from_a_test_is_enforced_at_once(lab: SgLab) -> None:
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    mary = {**ssh, "IpRanges": [{"CidrIp": "203.0.113.19/32"}]}  # the workstation
    lab.assert_filtered("workstation", "web-1", "tcp/22")
    lab.ec2.authorize_security_group_ingress(GroupName="apache", IpPermissions=[mary])
    lab.assert_open("workstation", "web-1", "tcp/22")
    lab.ec2.revoke_security_group_ingress(GroupName="apache", IpPermissions=[mary])
    lab.assert_filtered("workstation", "web-1", "tcp/22")


@pytest.mark.sg_mutates
def test_an_instance_launched_from_a_test_joins_its_group(lab: SgLab) -> None:
    launched = lab.ec2.run_instances(ImageId="ami-fba54092", SecurityGroups=["apache"])
    web_8 = launched["Instances"][0]["InstanceId"]  # named by its instance id
    lab.assert_open("internet", web_8, "tcp/80")
    lab.assert_open(web_8, "app-1", "tcp/8080")  # app servers now admit it as apache
    lab.ec2.terminate_instances(InstanceIds=[web_8])
    lab.assert_matrix_matches()
