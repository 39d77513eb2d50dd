"""Terraform: ``.tf`` files (python-hcl2), and the JSON of ``terraform show -json`` for a plan
or a state.

The four ways of writing rules are read: inline ``ingress``/``egress`` blocks of
``aws_security_group``, ``aws_security_group_rule``, ``aws_vpc_security_group_ingress_rule`` /
``aws_vpc_security_group_egress_rule``, and ``aws_default_security_group`` (the VPC's default
group, whose own rules Terraform removes). Terraform's egress default applies: a group has the
egress rules it declares and no others (Terraform removes the allow-all rule AWS adds).

``.tf`` files: variables take their ``default`` or ``--var NAME=VALUE``; ``locals`` are read;
``count`` is expanded; a module whose source is a local directory is read with its inputs;
other modules are not in the input (a note says so; references to their outputs become
outside groups). Expressions beyond references and interpolation (function calls,
conditionals, ``for_each``) are refused where a rule needs their value, naming file, line and
the expression.

Plan and state JSON: ``planned_values`` (or ``values``) walked through ``child_modules``;
values unknown at plan time are resolved through ``configuration``'s references.
``prior_state`` is the plan's before (see :func:`read_json`'s ``before``).

Other resources' group attachments (``vpc_security_group_ids``, ``security_groups``,
``security_group_ids``, anywhere in their arguments) become representatives.
"""

from harness.formats.imports.terraform.hcl import read_hcl
from harness.formats.imports.terraform.plan import read_json
from harness.formats.imports.terraform.resources import is_terraform_json

__all__ = ["is_terraform_json", "read_hcl", "read_json"]
