"""The emulated EC2, laid out by resource as AWS lays it out.

One control plane for EC2-Classic and VPC alike (what differs is data: :mod:`.platform`),
pure functions over a :class:`Cloud`, by resource: :mod:`.state` (the state, its records,
ids and defaults), :mod:`.groups` (groups and rules), :mod:`.instances`, :mod:`.network`
(VPCs, subnets, interfaces, outside hosts), :mod:`.prefix_lists`, :mod:`.images`,
:mod:`.tags`, :mod:`.filters` (the one describe-filter engine), :mod:`.topology` (the state
as the data plane's topology, and back), with :mod:`.rules` (the rulebook) and
:mod:`.platform`. :mod:`.actions` is the one action layer every door calls: each EC2 action
a pure function of (state, caller, request) to (state, answer) in an SDK's shape. This
package's names are the plane's: ``ec2.find_group``, ``ec2.Cloud``.
"""

from __future__ import annotations

from harness.core.ec2.filters import (
    check_filters as check_filters,
)
from harness.core.ec2.filters import (
    matches as matches,
)
from harness.core.ec2.filters import (
    select as select,
)
from harness.core.ec2.filters import (
    wildcard as wildcard,
)
from harness.core.ec2.groups import (
    PEER_FILTERS as PEER_FILTERS,
)
from harness.core.ec2.groups import (
    Permission as Permission,
)
from harness.core.ec2.groups import (
    RuleRecord as RuleRecord,
)
from harness.core.ec2.groups import (
    authorize as authorize,
)
from harness.core.ec2.groups import (
    create_group as create_group,
)
from harness.core.ec2.groups import (
    delete_group as delete_group,
)
from harness.core.ec2.groups import (
    describe_groups as describe_groups,
)
from harness.core.ec2.groups import (
    describe_rules as describe_rules,
)
from harness.core.ec2.groups import (
    find_group as find_group,
)
from harness.core.ec2.groups import (
    find_rule as find_rule,
)
from harness.core.ec2.groups import (
    group_filters as group_filters,
)
from harness.core.ec2.groups import (
    groups_naming as groups_naming,
)
from harness.core.ec2.groups import (
    modify_rules as modify_rules,
)
from harness.core.ec2.groups import (
    named_pair as named_pair,
)
from harness.core.ec2.groups import (
    permission_rules as permission_rules,
)
from harness.core.ec2.groups import (
    permissions as permissions,
)
from harness.core.ec2.groups import (
    revoke as revoke,
)
from harness.core.ec2.groups import (
    rule_id as rule_id,
)
from harness.core.ec2.groups import (
    rules_of as rules_of,
)
from harness.core.ec2.groups import (
    source_group as source_group,
)
from harness.core.ec2.groups import (
    users_of as users_of,
)
from harness.core.ec2.images import (
    deregister_image as deregister_image,
)
from harness.core.ec2.images import (
    find_image as find_image,
)
from harness.core.ec2.images import (
    image_of as image_of,
)
from harness.core.ec2.images import (
    listen_of as listen_of,
)
from harness.core.ec2.images import (
    register_image as register_image,
)
from harness.core.ec2.instances import (
    INSTANCE_FILTERS as INSTANCE_FILTERS,
)
from harness.core.ec2.instances import (
    describe_instances as describe_instances,
)
from harness.core.ec2.instances import (
    find_instances as find_instances,
)
from harness.core.ec2.instances import (
    reservations as reservations,
)
from harness.core.ec2.instances import (
    run_instances as run_instances,
)
from harness.core.ec2.instances import (
    set_instance_groups as set_instance_groups,
)
from harness.core.ec2.instances import (
    set_nic_groups as set_nic_groups,
)
from harness.core.ec2.instances import (
    terminate_instances as terminate_instances,
)
from harness.core.ec2.instances import (
    terminating as terminating,
)
from harness.core.ec2.network import (
    NicRequest as NicRequest,
)
from harness.core.ec2.network import (
    add_host as add_host,
)
from harness.core.ec2.network import (
    create_subnet as create_subnet,
)
from harness.core.ec2.network import (
    create_vpc as create_vpc,
)
from harness.core.ec2.network import (
    default_subnet as default_subnet,
)
from harness.core.ec2.network import (
    delete_subnet as delete_subnet,
)
from harness.core.ec2.network import (
    delete_vpc as delete_vpc,
)
from harness.core.ec2.network import (
    find_nic as find_nic,
)
from harness.core.ec2.network import (
    find_subnet as find_subnet,
)
from harness.core.ec2.network import (
    find_vpc as find_vpc,
)
from harness.core.ec2.network import (
    free_address_in as free_address_in,
)
from harness.core.ec2.network import (
    free_public as free_public,
)
from harness.core.ec2.network import (
    modify_subnet_attribute as modify_subnet_attribute,
)
from harness.core.ec2.network import (
    modify_vpc_attribute as modify_vpc_attribute,
)
from harness.core.ec2.network import (
    nics_of as nics_of,
)
from harness.core.ec2.network import (
    remove_host as remove_host,
)
from harness.core.ec2.prefix_lists import (
    create_prefix_list as create_prefix_list,
)
from harness.core.ec2.prefix_lists import (
    delete_prefix_list as delete_prefix_list,
)
from harness.core.ec2.prefix_lists import (
    find_prefix_list as find_prefix_list,
)
from harness.core.ec2.prefix_lists import (
    modify_prefix_list as modify_prefix_list,
)
from harness.core.ec2.state import (
    AMI_RE as AMI_RE,
)
from harness.core.ec2.state import (
    AMIS as AMIS,
)
from harness.core.ec2.state import (
    DEFAULT_LISTEN as DEFAULT_LISTEN,
)
from harness.core.ec2.state import (
    DEFAULT_REGION as DEFAULT_REGION,
)
from harness.core.ec2.state import (
    DEFAULT_TYPE as DEFAULT_TYPE,
)
from harness.core.ec2.state import (
    EC2_CLASSIC as EC2_CLASSIC,
)
from harness.core.ec2.state import (
    GROUP_ID_RE as GROUP_ID_RE,
)
from harness.core.ec2.state import (
    HOST_NAME_RE as HOST_NAME_RE,
)
from harness.core.ec2.state import (
    INSTANCE_ID_RE as INSTANCE_ID_RE,
)
from harness.core.ec2.state import (
    LISTEN_TAG as LISTEN_TAG,
)
from harness.core.ec2.state import (
    MAX_INSTANCES as MAX_INSTANCES,
)
from harness.core.ec2.state import (
    MAX_PREFIX_LIST_ENTRIES as MAX_PREFIX_LIST_ENTRIES,
)
from harness.core.ec2.state import (
    MAX_TAGS as MAX_TAGS,
)
from harness.core.ec2.state import (
    PENDING as PENDING,
)
from harness.core.ec2.state import (
    PLATFORMS as PLATFORMS,
)
from harness.core.ec2.state import (
    REGION_RE as REGION_RE,
)
from harness.core.ec2.state import (
    RUNNING as RUNNING,
)
from harness.core.ec2.state import (
    SHUTTING_DOWN as SHUTTING_DOWN,
)
from harness.core.ec2.state import (
    STATE_CODES as STATE_CODES,
)
from harness.core.ec2.state import (
    TERMINATED as TERMINATED,
)
from harness.core.ec2.state import (
    VPC as VPC,
)
from harness.core.ec2.state import (
    Ami as Ami,
)
from harness.core.ec2.state import (
    Cloud as Cloud,
)
from harness.core.ec2.state import (
    ImageRecord as ImageRecord,
)
from harness.core.ec2.state import (
    InstanceRecord as InstanceRecord,
)
from harness.core.ec2.state import (
    NewId as NewId,
)
from harness.core.ec2.state import (
    NicRecord as NicRecord,
)
from harness.core.ec2.state import (
    PrefixListRecord as PrefixListRecord,
)
from harness.core.ec2.state import (
    SubnetRecord as SubnetRecord,
)
from harness.core.ec2.state import (
    Tag as Tag,
)
from harness.core.ec2.state import (
    VpcRecord as VpcRecord,
)
from harness.core.ec2.state import (
    ami as ami,
)
from harness.core.ec2.state import (
    check_group_id as check_group_id,
)
from harness.core.ec2.state import (
    check_instance_id as check_instance_id,
)
from harness.core.ec2.state import (
    check_region as check_region,
)
from harness.core.ec2.state import (
    default_vpc_of as default_vpc_of,
)
from harness.core.ec2.state import (
    fresh_id as fresh_id,
)
from harness.core.ec2.state import (
    home_vpc as home_vpc,
)
from harness.core.ec2.state import (
    not_found as not_found,
)
from harness.core.ec2.state import (
    parse_listen as parse_listen,
)
from harness.core.ec2.state import (
    set_platform as set_platform,
)
from harness.core.ec2.state import (
    stable_id as stable_id,
)
from harness.core.ec2.state import (
    tag_value as tag_value,
)
from harness.core.ec2.state import (
    tags_of as tags_of,
)
from harness.core.ec2.state import (
    untagged as untagged,
)
from harness.core.ec2.state import (
    with_account as with_account,
)
from harness.core.ec2.state import (
    with_default_vpc as with_default_vpc,
)
from harness.core.ec2.state import (
    zone_id_of as zone_id_of,
)
from harness.core.ec2.state import (
    zone_of as zone_of,
)
from harness.core.ec2.tags import (
    create_tags as create_tags,
)
from harness.core.ec2.tags import (
    delete_tags as delete_tags,
)
from harness.core.ec2.tags import (
    owned_resources as owned_resources,
)
from harness.core.ec2.topology import (
    TOPOLOGY_AMI as TOPOLOGY_AMI,
)
from harness.core.ec2.topology import (
    state_of as state_of,
)
from harness.core.ec2.topology import (
    topology as topology,
)
