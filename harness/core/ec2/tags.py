"""Tags on every resource: create (checked before kept), delete, and the resources an
account owns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from harness.core.ec2 import routing
from harness.core.ec2.groups import find_group, find_rule, rules_of
from harness.core.ec2.images import find_image
from harness.core.ec2.instances import find_instances
from harness.core.ec2.network import find_nic, find_subnet, find_vpc
from harness.core.ec2.prefix_lists import find_prefix_list
from harness.core.ec2.state import LISTEN_TAG, MAX_TAGS, Cloud, Tag, parse_listen, with_account
from harness.errors import Ec2Error

# -- tags -----------------------------------------------------------------------------------------


def _resource_exists(cloud: Cloud, account: str, resource: str) -> None:
    prefix = resource.split("-", 1)[0]
    finders: dict[str, Callable[[], object]] = {
        "vpc": lambda: find_vpc(cloud, account, resource),
        "subnet": lambda: find_subnet(cloud, account, resource),
        "sg": lambda: find_group(cloud, account, resource),
        "sgr": lambda: find_rule(cloud, account, resource),
        "pl": lambda: find_prefix_list(cloud, account, resource),
        "i": lambda: find_instances(cloud, account, [resource]),
        "eni": lambda: find_nic(cloud, account, resource),
        "ami": lambda: _own_image(cloud, account, resource),
        "rtb": lambda: routing.find_table(cloud, account, resource),
        "acl": lambda: routing.find_acl(cloud, account, resource),
        "igw": lambda: routing.find_gateway(cloud, account, resource, False),
        "eigw": lambda: routing.find_gateway(cloud, account, resource, True),
        "nat": lambda: routing.find_nat(cloud, account, resource),
        "eipalloc": lambda: routing.find_address(cloud, account, resource),
        "pcx": lambda: routing.find_peering(cloud, account, resource),
    }
    finder = finders.get(prefix)
    if finder is None:
        raise Ec2Error("InvalidID", f"The ID '{resource}' is not valid")
    finder()


def _own_image(cloud: Cloud, account: str, image_id: str) -> None:
    if find_image(cloud, image_id).owner != account:
        raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")


def create_tags(
    cloud: Cloud,
    account: str,
    resources: Sequence[str],
    tags: Sequence[tuple[str, str]],
    at_launch: bool = False,
) -> tuple[Cloud, None]:
    cloud = with_account(cloud, account)
    if not resources:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ResourceId")
    for resource in resources:
        _resource_exists(cloud, account, resource)
    kept = list(cloud.tags)
    for resource in resources:
        for key, value in tags:
            if not key or key.startswith("aws:"):
                raise Ec2Error("InvalidParameterValue", f"Tag key '{key}' is not allowed")
            if key == LISTEN_TAG:  # what it serves: checked before it is kept
                parse_listen(value, f"{resource} tag {key}")
                if resource.startswith("i-") and not at_launch:
                    raise Ec2Error(
                        "InvalidParameterValue",
                        f"{resource}: what an instance serves is fixed when it is launched "
                        f"(tag its image, or give {key} in RunInstances' TagSpecifications)",
                    )
            kept = [t for t in kept if not (t.resource == resource and t.key == key)]
            kept.append(Tag(resource, key, value))
        if sum(1 for t in kept if t.resource == resource) > MAX_TAGS:
            raise Ec2Error(
                "TagLimitExceeded", f"The resource {resource} has more than {MAX_TAGS} tags"
            )
    return replace(cloud, tags=tuple(kept)), None


def delete_tags(
    cloud: Cloud, account: str, resources: Sequence[str], tags: Sequence[tuple[str, str | None]]
) -> tuple[Cloud, None]:
    """Remove tags: a key alone removes it whatever its value; no tags removes all."""
    cloud = with_account(cloud, account)
    for resource in resources:
        _resource_exists(cloud, account, resource)
    chosen = set(resources)

    def gone(tag: Tag) -> bool:
        if tag.resource not in chosen:
            return False
        if not tags:
            return True
        return any(tag.key == k and (v is None or tag.value == v) for k, v in tags)

    return replace(cloud, tags=tuple(t for t in cloud.tags if not gone(t))), None


def owned_resources(cloud: Cloud, account: str) -> set[str]:
    found = {v.vpc_id for v in cloud.vpcs if v.owner == account}
    found |= {s.subnet_id for s in cloud.subnets if s.owner == account}
    found |= {g.group_id for g in cloud.groups_of(account)}
    found |= {p.list_id for p in cloud.prefix_lists if p.owner == account}
    found |= {r.instance_id for r in cloud.instances if r.owner == account}
    found |= {n.eni_id for n in cloud.nics if n.owner == account}
    found |= {i.image_id for i in cloud.images if i.owner == account}
    found |= {r.rule_id for r in rules_of(cloud, account)}
    found |= {t.table_id for t in routing.all_tables(cloud, account)}
    found |= {a.acl_id for a in routing.all_acls(cloud, account)}
    found |= {g.gateway_id for g in routing.gateways_of(cloud, account)}
    found |= {n.nat_id for n in cloud.nat_gateways if n.owner == account}
    found |= {a.allocation_id for a in cloud.addresses if a.owner == account}
    found |= {p.pcx_id for p in cloud.peerings if p.owner == account}
    return found
