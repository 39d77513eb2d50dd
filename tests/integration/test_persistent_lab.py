"""Persistent labs on a real Docker engine: boto3 against ``sgh serve`` with probes, crash and
reboot reconciliation, and the ``ec2-*`` commands' errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest
from nodes import running
from persistent import Shell, cell, ec2_client, serving

from harness.adapters.docker_runtime import KIND_LABEL, LABEL, NODE_LABEL, DockerRuntime
from harness.core.runtime import Runtime

A = "111122223333"


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    shell = Shell(tmp_path / "home", "live")
    shell.run("sgh", "lab", "up", "live", "-q")
    yield shell
    shell.run("sgh", "lab", "down", "-q", check=False)


def containers(runtime: Runtime, lab: str) -> set[str]:
    return running(runtime, lab)


@pytest.fixture
def server(shell: Shell) -> Iterator[str]:
    with serving(shell) as url:
        yield url


def test_boto3_changes_are_enforced_on_the_containers(
    shell: Shell, server: str, runtime: Runtime, tmp_path: Path
) -> None:
    ec2 = ec2_client(server, A, attempts=1)
    shell.run("sgh", "host", "add", "workstation", "203.0.113.19", "-q")
    web = ec2.create_security_group(GroupName="web", Description="web servers")["GroupId"]
    # The ec2-* commands see what the API made, and the other way round.
    assert "\tweb\tweb servers" in shell.run("ec2-describe-group", "web").stdout
    shell.run("ec2-create-group", "app", "-d", "app servers")
    assert ec2.describe_security_groups(GroupNames=["app"])["SecurityGroups"][0]["GroupId"]

    run = ec2.run_instances(ImageId="ami-fba54092", MinCount=2, MaxCount=2, SecurityGroupIds=[web])
    ids = [i["InstanceId"] for i in run["Instances"]]
    app = ec2.run_instances(ImageId="ami-e3a5408a", MinCount=1, MaxCount=1, SecurityGroups=["app"])
    app_id = app["Instances"][0]["InstanceId"]
    assert containers(runtime, "live") == {"_switch", "workstation", app_id, *ids}

    http_from_workstation = [
        {
            "IpProtocol": "tcp",
            "FromPort": 80,
            "ToPort": 80,
            "IpRanges": [{"CidrIp": "203.0.113.19/32"}],
        }
    ]
    before = shell.matrix(tmp_path)
    assert before["exit"] == 0, before["text"]
    assert cell(before, "workstation", ids[0], "tcp/80")["observed"] == "filtered"
    assert cell(before, ids[0], app_id, "tcp/8080")["observed"] == "filtered"

    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=http_from_workstation,
    )
    ec2.authorize_security_group_ingress(
        GroupName="app", SourceSecurityGroupName="web", SourceSecurityGroupOwnerId=A
    )
    granted = shell.matrix(tmp_path)
    assert granted["exit"] == 0, granted["text"]
    for instance in ids:
        assert cell(granted, "workstation", instance, "tcp/80")["observed"] == "open"
        assert cell(granted, instance, app_id, "tcp/8080")["observed"] == "open"
    assert cell(granted, "workstation", ids[0], "tcp/22")["observed"] == "filtered"

    ec2.revoke_security_group_ingress(
        GroupId=web,
        IpPermissions=http_from_workstation,
    )
    # A launch changes the app servers' set of web addresses: the new one gets in at once.
    more = ec2.run_instances(ImageId="ami-fba54092", MinCount=1, MaxCount=1, SecurityGroups=["web"])
    newest = more["Instances"][0]["InstanceId"]
    revoked = shell.matrix(tmp_path)
    assert revoked["exit"] == 0, revoked["text"]
    assert cell(revoked, "workstation", ids[0], "tcp/80")["observed"] == "filtered"
    assert cell(revoked, newest, app_id, "tcp/8080")["observed"] == "open"

    ec2.terminate_instances(InstanceIds=[*ids, newest])
    assert containers(runtime, "live") == {"_switch", "workstation", app_id}
    ec2.revoke_security_group_ingress(
        GroupName="app", SourceSecurityGroupName="web", SourceSecurityGroupOwnerId=A
    )
    ec2.delete_security_group(GroupId=web)  # right after the termination
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.delete_security_group(GroupName="app")
    assert err.value.response["Error"]["Code"] == "InvalidGroup.InUse"
    status = shell.run("sgh", "lab", "status").stdout
    assert re.search(r"(containers|namespaces): 3 of 3 running", status), status


def test_an_instance_of_a_users_image_serves_the_ports_the_user_declared(
    shell: Shell, server: str, tmp_path: Path
) -> None:
    """A 443/8080/5432 design is open where the rules allow it, not closed everywhere: the
    image says what it serves (its sgh:listen tag), as the user registered it through boto3."""
    ec2 = ec2_client(server, A, attempts=1)
    shell.run("sgh", "host", "add", "workstation", "203.0.113.19", "-q")
    image = ec2.register_image(
        Name="shop-api",
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "sgh:listen", "Value": "tcp/443 tcp/8080"}]}
        ],
    )["ImageId"]
    db_image = ec2.register_image(Name="shop-db")["ImageId"]
    ec2.create_tags(Resources=[db_image], Tags=[{"Key": "sgh:listen", "Value": "tcp/5432"}])
    api = ec2.create_security_group(GroupName="api", Description="api")["GroupId"]
    db = ec2.create_security_group(GroupName="db", Description="db")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=api,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": api}],
            }
        ],
    )
    (server_id,) = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=[api])[
            "Instances"
        ]
    ]
    (db_id,) = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=db_image, MinCount=1, MaxCount=1, SecurityGroupIds=[db])[
            "Instances"
        ]
    ]
    matrix = shell.matrix(tmp_path)
    assert matrix["exit"] == 0, matrix["text"]
    assert cell(matrix, "workstation", server_id, "tcp/443")["observed"] == "open"
    assert cell(matrix, "workstation", server_id, "tcp/8080")["observed"] == "filtered"
    assert cell(matrix, server_id, db_id, "tcp/5432")["observed"] == "open"
    assert cell(matrix, "workstation", db_id, "tcp/5432")["observed"] == "filtered"
    images = ec2.describe_images(Owners=["self"])["Images"]
    assert {i["Name"] for i in images} == {"shop-api", "shop-db"}


def test_ec2_commands_report_ec2_errors(shell: Shell) -> None:
    cases = [
        (["ec2-create-group", "default", "-d", "x"], "Client.InvalidGroup.Reserved: "),
        (
            ["ec2-delete-group", "default"],
            "Client.InvalidGroup.Reserved: The security group 'default' is reserved",
        ),
        (
            ["ec2-authorize", "nope", "-p", "22"],
            "Client.InvalidGroup.NotFound: The security group 'nope' does not exist",
        ),
        (
            ["ec2-authorize", "default", "-P", "all", "-p", "22"],
            'Client.InvalidPermission.Malformed: Unsupported IP protocol "all"',
        ),
        (["ec2-authorize", "default", "-p", "80-22"], "Client.InvalidPermission.Malformed: "),
        (
            ["ec2-authorize", "default", "-p", "22", "-s", "10.0.0.0/33"],
            "Client.InvalidParameterValue: CIDR block 10.0.0.0/33 is malformed",
        ),
        (
            ["ec2-authorize", "default", "-P", "icmp", "-t", "300:0"],
            "Client.InvalidParameterValue: ICMP type (300)",
        ),
        (["ec2-describe-group", "sg-1"], 'Client.InvalidGroupId.Malformed: Invalid id: "sg-1"'),
        (["ec2-terminate-instances", "i-12345678"], "Client.InvalidInstanceID.NotFound: "),
        (["ec2-run-instances", "ami-fba54092", "-g", "nope"], "Client.InvalidGroup.NotFound: "),
    ]
    for argv, expected in cases:
        done = shell.run(*argv, check=False)
        assert done.returncode == 1, (argv, done.stderr)
        assert done.stderr.startswith(expected), (argv, done.stderr)
        assert done.stdout == ""
    shell.run("ec2-authorize", "default", "-P", "icmp", "-t", "-1:-1", "-s", "203.0.113.0/24")
    again = shell.run(
        "ec2-authorize", "default", "-P", "icmp", "-t", "-1:-1", "-s", "203.0.113.0/24", check=False
    )
    assert again.returncode == 1 and again.stderr.startswith("Client.InvalidPermission.Duplicate")
    # Another account, from the environment: its own default group, and no view of ours.
    other = {"SGH_ACCOUNT": "444455556666"}
    listed = shell.run("ec2-describe-group", env=other).stdout.splitlines()
    assert listed[0].split("\t")[:4] == [
        "GROUP",
        listed[0].split("\t")[1],
        "444455556666",
        "default",
    ]
    assert all("203.0.113.0/24" not in line for line in listed)
    done = shell.run("ec2-revoke", "default", "-p", "9999", "-s", "1.2.3.4/32", check=False)
    assert done.returncode == 0  # EC2-Classic: revoking a missing rule is no error
    bad = shell.run("ec2-describe-group", "--lab", "no-such-lab", check=False)
    assert bad.returncode == 2 and "no lab named 'no-such-lab'" in bad.stderr


@pytest.mark.docker_only  # it kills containers and starts a stray one through Docker
def test_killed_changes_and_lost_containers_are_reconciled(
    shell: Shell, runtime: Runtime, tmp_path: Path
) -> None:
    assert isinstance(runtime, DockerRuntime)
    shell.run("sgh", "host", "add", "albert", "203.0.113.7", "-q")
    shell.run("ec2-create-group", "web", "-d", "web")
    shell.run("ec2-run-instances", "ami-fba54092", "-n", "2", "-g", "web")
    acked = tmp_path / "acked"
    script = (
        "set -e\n"
        "for i in $(seq 1 400); do\n"
        "  ec2-authorize web -p $((1000 + i)) -s 203.0.113.7/32 >/dev/null\n"
        '  echo "port $((1000 + i))" >> "$ACKED"\n'
        "  if [ $((i % 4)) = 0 ]; then\n"
        "    id=$(ec2-run-instances ami-e3a5408a -g web | awk '/^INSTANCE/ {print $2}')\n"
        '    echo "instance $id" >> "$ACKED"\n'
        "  fi\n"
        "done\n"
    )
    loop = subprocess.Popen(
        ["bash", "-c", script],
        env={**shell.env, "ACKED": str(acked)},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it in the middle of its run of changes
        if acked.exists() and acked.read_text().count("instance ") >= 2:
            break
        time.sleep(0.1)
    time.sleep(0.7)
    os.killpg(loop.pid, signal.SIGKILL)
    loop.wait()
    # And the data plane loses some of its processes too, as a crash or a reboot would.
    victims = sorted(n for n in containers(runtime, "live") if n.startswith("i-"))[:1]
    for name in victims:
        victim = runtime.client.containers.get(f"sghp-live-{name}")
        victim.kill()
        victim.wait()  # its exit handled before a container starts (see DockerRuntime._remove)
    runtime.client.containers.run(
        "sgh-instance:latest",
        [],
        name="sghp-live-i-deadbeef",
        labels={
            LABEL: "live",
            KIND_LABEL: "persistent",
            NODE_LABEL: "i-deadbeef",
            "sg-harness.role": "instance",
        },
        network_mode="none",
        detach=True,
    )

    shell.run("sgh", "lab", "up", "-q")

    lines = acked.read_text().splitlines()
    ports = [line.split()[1] for line in lines if line.startswith("port ")]
    launched = [
        line.split()[1] for line in lines if line.startswith("instance ") and line.split()[1:]
    ]
    assert len(ports) >= 8
    described = shell.run("ec2-describe-group", "web").stdout
    for port in ports:  # nothing acknowledged was lost
        assert f"\t{port}\t{port}\tFROM\tCIDR\t203.0.113.7/32" in described
    running = [
        line.split("\t")[1]
        for line in shell.run("ec2-describe-instances").stdout.splitlines()
        if line.startswith("INSTANCE") and "\trunning\t" in line
    ]
    assert set(launched) <= set(running)
    assert containers(runtime, "live") == {"_switch", "albert", *running}
    status = shell.run("sgh", "lab", "status").stdout
    assert f"containers: {len(running) + 2} of {len(running) + 2} running" in status, status
    matrix = shell.matrix(tmp_path)
    assert matrix["exit"] == 0, matrix["text"]
    web = [
        line.split("\t")[1]
        for line in shell.run(
            "ec2-describe-instances", "-F", "image-id=ami-fba54092"
        ).stdout.splitlines()
        if line.startswith("INSTANCE")
    ]
    for instance in web:  # an acknowledged rule is enforced: the port answers (nothing listens)
        assert cell(matrix, "albert", instance, f"tcp/{ports[0]}")["observed"] == "closed"
        assert cell(matrix, "albert", instance, "tcp/80")["observed"] == "filtered"
    print(f"acknowledged: {len(ports)} rules, {len(launched)} launches; running {len(running)}")


def test_lab_down_keeps_the_state_and_up_rebuilds_it(
    shell: Shell, runtime: Runtime, tmp_path: Path
) -> None:
    shell.run("sgh", "host", "add", "mary", "203.0.113.19", "-q")
    shell.run("ec2-create-group", "web", "-d", "web")
    shell.run("ec2-authorize", "web", "-p", "80", "-s", "203.0.113.19/32")
    out = shell.run("ec2-run-instances", "ami-fba54092", "-g", "web").stdout
    instance = next(line.split("\t")[1] for line in out.splitlines() if line.startswith("INSTANCE"))
    shell.run("sgh", "lab", "down", "-q")
    assert containers(runtime, "live") == set()
    assert "state:      down" in shell.run("sgh", "lab", "status").stdout
    shell.run("sgh", "lab", "up", "-q")
    assert containers(runtime, "live") == {"_switch", "mary", instance}
    matrix = shell.matrix(tmp_path)
    assert matrix["exit"] == 0, matrix["text"]
    assert cell(matrix, "mary", instance, "tcp/80")["observed"] == "open"
    assert cell(matrix, "mary", instance, "tcp/22")["observed"] == "filtered"
    data = json.loads((tmp_path / "matrix.json").read_text())
    assert data["lab"] == "live"
    # A host in a new subnet, added to a running lab: existing instances route to it at once.
    shell.run("sgh", "host", "add", "late", "198.51.100.20", "-q")
    shell.run("ec2-authorize", "web", "-p", "22", "-s", "198.51.100.0/24")
    later = shell.matrix(tmp_path)
    assert later["exit"] == 0, later["text"]
    assert cell(later, "late", instance, "tcp/22")["observed"] == "open"
    shell.run("sgh", "host", "rm", "late", "-q")
    assert containers(runtime, "live") == {"_switch", "mary", instance}
