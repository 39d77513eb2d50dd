"""The emulated EC2, laid out by resource as AWS lays it out.

One control plane for EC2-Classic and VPC alike (what differs is data: :mod:`.platform`),
pure functions over a :class:`Cloud`, by resource: :mod:`.state` (the state, its records,
ids and defaults), :mod:`.groups` (groups and rules), :mod:`.instances`, :mod:`.network`
(VPCs, subnets, interfaces, outside hosts), :mod:`.prefix_lists`, :mod:`.images`,
:mod:`.tags`, :mod:`.filters` (the one describe-filter engine), :mod:`.topology` (the state
as the data plane's topology, and back), with :mod:`.rules` (the rulebook) and
:mod:`.platform`. :mod:`.actions` is the one action layer every door calls: each EC2 action
a pure function of (state, caller, request) to (state, answer) in an SDK's shape.
:mod:`.plane` gathers the plane's names (``ec2.find_group``, ``ec2.Cloud``).
"""
