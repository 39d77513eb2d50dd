"""A VPC lab changed from pytest through ``lab.ec2`` (the action layer every door calls): an
egress rule revoked and given back, and an instance's membership changed, each enforced on the
lab before the call returns and seen by the next probe."""

import pytest

from harness.errors import Ec2Error
from harness.faces.pytest_plugin import SgLab

pytestmark = pytest.mark.sg_topology("topologies/vpc-three-tier.yaml")


def group_ids(lab: SgLab) -> dict[str, str]:
    found = lab.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": ["prod"]}])[
        "SecurityGroups"
    ]
    return {group["GroupName"]: group["GroupId"] for group in found}


@pytest.mark.sg_mutates
def test_an_egress_rule_revoked_from_a_test_is_enforced_at_once(lab: SgLab) -> None:
    web = group_ids(lab)["web"]
    to_app = {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "UserIdGroupPairs": [{"GroupId": group_ids(lab)["app"]}],
    }
    lab.assert_open("web-1", "app-1", "tcp/8080")
    revoked = lab.ec2.revoke_security_group_egress(GroupId=web, IpPermissions=[to_app])
    assert revoked["Return"] is True and len(revoked["RevokedSecurityGroupRules"]) == 1
    lab.assert_filtered("web-1", "app-1", "tcp/8080")  # the app tier admits it; egress does not
    lab.ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[to_app])
    lab.assert_open("web-1", "app-1", "tcp/8080")


@pytest.mark.sg_mutates
def test_a_membership_change_from_a_test_is_enforced_at_once(lab: SgLab) -> None:
    ids = group_ids(lab)
    lab.assert_filtered("web-1", "db-1", "tcp/3306")
    lab.ec2.modify_instance_attribute(InstanceId="web-1", Groups=[ids["web"], ids["app"]])
    lab.assert_open("web-1", "db-1", "tcp/3306")  # as an app server: app's egress, db's rule
    lab.ec2.modify_instance_attribute(InstanceId="web-1", Groups=[ids["web"]])
    lab.assert_filtered("web-1", "db-1", "tcp/3306")
    lab.assert_matrix_matches()


def test_what_ec2_refuses_is_refused_with_its_code(lab: SgLab) -> None:
    with pytest.raises(Ec2Error) as err:
        lab.ec2.create_security_group(GroupName="web", Description="again", VpcId="prod")
    assert err.value.code == "InvalidGroup.Duplicate"
    with pytest.raises(Ec2Error) as err:  # boto3's own check of the arguments
        lab.ec2.authorize_security_group_egress(GroupName="web", IpPermissions=[])
    assert err.value.code == "InvalidParameterValue" and "GroupName" in err.value.message
