"""The console's pages through Flask's test client, over a persistent lab that is down (its
control plane only): CSRF, keys beyond loopback, escaping, staging and Apply Rule Changes,
EC2's errors. The browser tests drive the same pages on a running lab."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from harness.adapters.fake_runtime import FakeRuntime
from harness.adapters.probers.simulated_prober import SimulatedProber
from harness.adapters.sqlite_store import Home
from harness.core.ec2.platform import DEFAULT_GROUP
from harness.errors import Ec2Error
from harness.faces.console import rules
from harness.faces.console.app import make_app
from harness.faces.console.context import Console
from harness.faces.console.live import LiveMap
from harness.lab.persistent import PersistentLab

ACCOUNT = "111122223333"
HOSTILE = '<img src=x onerror=alert(1)><b>bold</b> & "quotes"'


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[PersistentLab]:
    lab = PersistentLab(Home(tmp_path), "console", runtime=FakeRuntime(), create=True)
    yield lab
    lab.close()


def client_of(lab: PersistentLab, host: str = "127.0.0.1") -> Iterator[FlaskClient]:
    live = LiveMap(lab, SimulatedProber(lab.topology(), {}))
    try:
        yield make_app(Console(lab, ACCOUNT, live), host).test_client()
    finally:
        live.stop()


@pytest.fixture
def client(lab: PersistentLab) -> Iterator[FlaskClient]:
    yield from client_of(lab)


def token(client: FlaskClient, path: str = "/groups?dialog=create") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def create(client: FlaskClient, name: str, description: str) -> str:
    answer = client.post(
        "/groups",
        data={"csrf_token": token(client), "name": name, "description": description, "vpc": ""},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"].split("group=")[1]


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient, lab: PersistentLab
) -> None:
    answer = client.post("/groups", data={"name": "apache", "description": "d", "vpc": ""})
    assert answer.status_code == 400
    assert "CSRF token is missing" in answer.get_data(as_text=True)
    forged = client.post(
        "/groups", data={"csrf_token": "forged", "name": "apache", "description": "d"}
    )
    assert forged.status_code == 400
    assert "apache" not in {g.name for g in lab.cloud().groups}


def test_what_a_user_typed_is_text_never_markup(client: FlaskClient) -> None:
    group_id = create(client, "hostile", HOSTILE)
    page = client.get(f"/groups?group={group_id}").get_data(as_text=True)
    assert "<img src=x" not in page and "<b>bold</b>" not in page
    assert (
        "&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quotes&#34;" in page
    )
    policy = client.get("/groups").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]


def test_add_rule_stages_and_apply_rule_changes_enforces_all_at_once(
    client: FlaskClient, lab: PersistentLab
) -> None:
    group_id = create(client, "apache", "Mary's Apache group")
    csrf = token(client, f"/groups?group={group_id}")
    for preset, ports, source in (("HTTP", "", "0.0.0.0/0"), ("SSH", "", "203.0.113.5/32")):
        answer = client.post(
            f"/groups/{group_id}/rules",
            data={
                "csrf_token": csrf,
                "tab": "inbound",
                "preset": preset,
                "port_range": ports,
                "source": source,
            },
        )
        assert answer.status_code == 302
    page = client.get(f"/groups?group={group_id}").get_data(as_text=True)
    assert ">Inbound *</a>" in page
    assert not next(g for g in lab.cloud().groups if g.group_id == group_id).rules  # staged only

    assert client.post(f"/groups/{group_id}/apply", data={"csrf_token": csrf}).status_code == 302
    group = next(g for g in lab.cloud().groups if g.group_id == group_id)
    assert sorted(r.describe(ACCOUNT) for r in group.rules) == [
        "tcp 22 from 203.0.113.5/32",
        "tcp 80 from 0.0.0.0/0",
    ]
    page = client.get(f"/groups?group={group_id}").get_data(as_text=True)
    assert ">Inbound</a>" in page and "Applied 2 rule changes" in page

    # Delete next to a rule stages its removal; Apply Rule Changes revokes it
    rule_id = re.findall(r'data-rule="([^"]+)"><td class="">tcp 80', page)[0]
    client.post(
        f"/groups/{group_id}/rules/delete",
        data={"csrf_token": csrf, "tab": "inbound", "rule_id": rule_id, "text": "tcp 80"},
    )
    assert ">Inbound *</a>" in client.get(f"/groups?group={group_id}").get_data(as_text=True)
    client.post(f"/groups/{group_id}/apply", data={"csrf_token": csrf})
    group = next(g for g in lab.cloud().groups if g.group_id == group_id)
    assert [r.describe(ACCOUNT) for r in group.rules] == ["tcp 22 from 203.0.113.5/32"]


def test_a_refused_apply_applies_nothing_and_says_why_in_ec2_words(
    client: FlaskClient, lab: PersistentLab
) -> None:
    group_id = create(client, "web", "web")
    csrf = token(client, f"/groups?group={group_id}")
    for source in ("0.0.0.0/0", "nosuchgroup"):
        client.post(
            f"/groups/{group_id}/rules",
            data={"csrf_token": csrf, "tab": "inbound", "preset": "HTTP", "source": source},
        )
    answer = client.post(f"/groups/{group_id}/apply", data={"csrf_token": csrf})
    assert answer.status_code == 400
    assert "InvalidGroup.NotFound" in answer.get_data(as_text=True)
    assert not next(g for g in lab.cloud().groups if g.group_id == group_id).rules


def test_the_default_group_cannot_be_deleted(client: FlaskClient, lab: PersistentLab) -> None:
    client.get("/groups")  # the account's first look makes its default group
    default = next(g for g in lab.cloud().groups if g.name == DEFAULT_GROUP)
    csrf = token(client, f"/groups?group={default.group_id}&dialog=delete")
    answer = client.post(f"/groups/{default.group_id}/delete", data={"csrf_token": csrf})
    assert answer.status_code == 400
    assert "InvalidGroup.Reserved" in answer.get_data(as_text=True)
    assert default.group_id in {g.group_id for g in lab.cloud().groups}


def test_beyond_loopback_every_request_needs_a_key_of_the_account(lab: PersistentLab) -> None:
    access, secret = lab.home.add_key(ACCOUNT)
    other, other_secret = lab.home.add_key("444455556666")
    for client in client_of(lab, host="0.0.0.0"):

        def basic(user: str, password: str) -> dict[str, str]:
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}

        assert client.get("/groups").status_code == 401
        assert client.get("/groups", headers=basic(access, "wrong")).status_code == 401
        assert client.get("/groups", headers=basic(other, other_secret)).status_code == 401
        assert client.get("/groups", headers=basic(ACCOUNT, "")).status_code == 401
        assert client.get("/groups", headers=basic(access, secret)).status_code == 200


def test_on_loopback_another_host_name_is_refused(client: FlaskClient) -> None:
    assert client.get("/groups", headers={"Host": "evil.example:8774"}).status_code == 400
    assert client.get("/groups", headers={"Host": "127.0.0.1:8774"}).status_code == 200


@pytest.mark.parametrize(
    ("preset", "ports", "source", "expected"),
    [
        ("HTTP", "", "0.0.0.0/0", ("tcp", 80, 80)),
        ("All TCP", "", "sg-1a2b3c4d", ("tcp", 0, 65535)),
        ("Custom UDP rule", "5000-5010", "10.0.0.0/8", ("udp", 5000, 5010)),
        ("Custom ICMP rule", "8:0", "web", ("icmp", 8, 0)),
        ("All ICMP", "", "111122223333/web", ("icmp", -1, -1)),
        ("DNS", "", "0.0.0.0/0", ("udp", 53, 53)),
    ],
)
def test_the_presets_fill_protocol_and_ports(
    preset: str, ports: str, source: str, expected: tuple[str, int, int]
) -> None:
    change = rules.staged_rule(preset, ports, source, egress=False)
    assert (change["protocol"], change["from"], change["to"]) == expected


@pytest.mark.parametrize(
    ("preset", "ports", "source", "words"),
    [
        ("SSH", "23", "0.0.0.0/0", "SSH is tcp 22"),
        ("Custom TCP rule", "", "0.0.0.0/0", "needs a port"),
        ("HTTP", "", "", "Source needs"),
        ("Telnet", "23", "0.0.0.0/0", "not a rule of the list"),
    ],
)
def test_a_rule_the_form_cannot_stand_for_is_refused_at_add_rule(
    preset: str, ports: str, source: str, words: str
) -> None:
    with pytest.raises(Ec2Error, match=words):
        rules.staged_rule(preset, ports, source, egress=False)


def test_a_vpc_group_has_an_outbound_tab_and_all_traffic(lab: PersistentLab) -> None:
    lab.choose("vpc")
    for client in client_of(lab):
        page = client.get("/groups?dialog=create").get_data(as_text=True)
        assert "No VPC" not in page  # a VPC lab's groups live in a VPC
        vpc = re.findall(r'<option value="(vpc-[0-9a-f]+)"', page)[0]
        answer = client.post(
            "/groups",
            data={"csrf_token": token(client), "name": "db", "description": "d", "vpc": vpc},
        )
        group_id = answer.headers["Location"].split("group=")[1]
        page = client.get(f"/groups?group={group_id}&tab=outbound").get_data(as_text=True)
        assert ">Outbound</a>" in page and "all traffic to 0.0.0.0/0" in page
        assert '<option value="All traffic">' in page
        csrf = token(client, f"/groups?group={group_id}")
        client.post(
            f"/groups/{group_id}/rules",
            data={"csrf_token": csrf, "tab": "outbound", "preset": "All traffic", "source": "db"},
        )
        page = client.get(f"/groups?group={group_id}&tab=outbound").get_data(as_text=True)
        assert ">Outbound *</a>" in page and ">Inbound</a>" in page
        client.post(f"/groups/{group_id}/apply", data={"csrf_token": csrf, "tab": "outbound"})
        group = next(g for g in lab.cloud().groups if g.group_id == group_id)
        assert group.egress is not None
        assert sorted(r.describe(ACCOUNT, "to") for r in group.egress) == [
            "all traffic to 0.0.0.0/0",
            "all traffic to db",
        ]
        assert not group.rules
        page = client.get(f"/groups?group={group_id}&tab=outbound").get_data(as_text=True)
        assert "all traffic to db</td>" in page  # a group of the account, by its name


def test_the_instances_page_shows_what_each_image_serves_and_each_instance(
    lab: PersistentLab,
) -> None:
    lab.call("CreateSecurityGroup", ACCOUNT, {"GroupName": "pg", "Description": "d"})
    tag = {"Key": "sgh:listen", "Value": "tcp/5432,tcp/22"}
    image = lab.call(
        "RegisterImage",
        ACCOUNT,
        {"Name": "postgres", "TagSpecifications": [{"ResourceType": "image", "Tags": [tag]}]},
    )["ImageId"]
    plain = lab.call("RegisterImage", ACCOUNT, {"Name": "plain"})["ImageId"]
    launched = lab.call(
        "RunInstances",
        ACCOUNT,
        {"ImageId": image, "MinCount": 1, "MaxCount": 1, "SecurityGroups": ["pg"]},
    )["Instances"][0]
    for client in client_of(lab):
        page = client.get("/instances").get_data(as_text=True)
        assert "ami-e3a5408a (app server: tcp/22, tcp/8080)" in page  # a seed AMI
        assert f"{image} (postgres: tcp/22, tcp/5432)" in page  # its sgh:listen tag
        assert f"{plain} (plain: tcp/22, tcp/80)" in page  # no tag: what any image serves
        row = re.findall(rf'<tr data-instance="{launched["InstanceId"]}">(.*?)</tr>', page)[0]
        assert f'{image} <span class="g">postgres</span>' in row
        assert "<td>running</td><td>pg</td>" in row
        assert f"<td>{launched['PrivateIpAddress']}</td>" in row


def test_a_rule_is_listed_as_the_console_writes_it() -> None:
    names = {"sg-0000000a": "web"}
    rule = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IsEgress": False}
    mine = {"GroupId": "sg-0000000a", "UserId": ACCOUNT}
    theirs = {"GroupId": "sg-0000000b", "UserId": "444455556666"}
    assert rules.rule_text({**rule, "ReferencedGroupInfo": mine}, names, ACCOUNT) == (
        "tcp 22 from web"
    )
    assert rules.rule_text({**rule, "ReferencedGroupInfo": theirs}, names, ACCOUNT) == (
        "tcp 22 from 444455556666/sg-0000000b"
    )
    icmp = {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IsEgress": True}
    assert rules.rule_text({**icmp, "PrefixListId": "pl-1a2b3c4d"}, names, ACCOUNT) == (
        "icmp 8:-1 to pl:pl-1a2b3c4d"
    )
    sctp = {"IpProtocol": "132", "FromPort": -1, "ToPort": -1, "IsEgress": False}
    assert rules.rule_text({**sctp, "CidrIpv6": "::/0"}, names, ACCOUNT) == (
        "protocol 132 from ::/0"
    )


def test_classic_groups_offer_no_all_traffic(client: FlaskClient) -> None:
    group_id = create(client, "web", "web")
    page = client.get(f"/groups?group={group_id}").get_data(as_text=True)
    assert '<option value="HTTP">' in page and "All traffic" not in page
    assert ">Outbound" not in page


def test_reachability_of_a_lab_that_is_down_says_how_to_start_it(client: FlaskClient) -> None:
    for _ in range(100):  # the first probe runs in the background at start
        page = client.get("/reachability").get_data(as_text=True)
        if 'data-fresh="true"' in page:
            break
        time.sleep(0.05)
    assert (
        'role="alert">lab &#39;console&#39; is down; start it with &#39;sgh lab up console' in page
    )
    assert 'id="data"' not in page  # no map was ever probed


def test_a_change_made_by_another_process_makes_the_map_stale_until_probed_again(
    lab: PersistentLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.core.ec2 import plane as ec2
    from harness.faces.console import live

    monkeypatch.setattr(live, "POLL", 0.05)
    mapped = LiveMap(lab, SimulatedProber(lab.topology(), {}))
    try:

        def fresh() -> bool:
            return mapped.snapshot().fresh

        for _ in range(200):
            if fresh():
                break
            time.sleep(0.02)
        assert fresh()
        other = PersistentLab(Home(lab.home.path), lab.name, runtime=FakeRuntime())  # as if
        try:  # another process: its own connection, and no word to this console
            other.act(lambda c: ec2.create_group(c, ACCOUNT, "late", "made elsewhere", None))
        finally:
            other.close()
        assert not fresh()  # at once: the page reads the lab's change counter itself
        for _ in range(200):
            if fresh():
                break
            time.sleep(0.02)
        assert fresh()  # probed again without being told
    finally:
        mapped.stop()


def test_the_subnets_page_shows_each_subnets_route_table_and_network_acl(
    lab: PersistentLab,
) -> None:
    """Read-only: a subnet's routes (the local one, a route to a NAT gateway) and its
    network ACL's entries in the order they are read, the * entries last."""
    lab.choose("vpc")

    def act(name: str, request: dict[str, Any]) -> Any:
        return lab.call(name, ACCOUNT, request)

    vpc = act("CreateVpc", {"CidrBlock": "10.9.0.0/16"})["Vpc"]["VpcId"]
    subnet = act("CreateSubnet", {"VpcId": vpc, "CidrBlock": "10.9.1.0/24"})["Subnet"]["SubnetId"]
    acl = act("CreateNetworkAcl", {"VpcId": vpc})["NetworkAcl"]["NetworkAclId"]
    act(
        "CreateNetworkAclEntry",
        {
            "NetworkAclId": acl,
            "RuleNumber": 110,
            "Protocol": "6",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 22, "To": 22},
        },
    )
    for client in client_of(lab):
        page = client.get("/subnets").get_data(as_text=True)
        assert f'data-subnet="{subnet}"' in page
        assert "<td>10.9.0.0/16</td><td>local</td><td>active</td>" in page
        mine = page[page.index(f'data-subnet="{subnet}"') :]
        default = re.search(r"Network ACL (acl-[0-9a-f]+): inbound", mine)
        assert default is not None  # the VPC's default ACL until the subnet is moved
        (found,) = act("DescribeNetworkAcls", {"NetworkAclIds": [default.group(1)]})["NetworkAcls"]
        (assoc,) = [a for a in found["Associations"] if a["SubnetId"] == subnet]
        act(
            "ReplaceNetworkAclAssociation",
            {"AssociationId": assoc["NetworkAclAssociationId"], "NetworkAclId": acl},
        )
        page = client.get("/subnets").get_data(as_text=True)
        assert f"Network ACL {acl}: inbound" in page
        assert "<td>110</td><td>tcp</td><td>22</td><td>0.0.0.0/0</td><td>deny</td>" in page
        mine = page[page.index(f'data-subnet="{subnet}"') :]
        assert mine.index("<td>110</td>") < mine.index("<td>*</td>")
