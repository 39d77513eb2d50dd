"""Importers: a user's own security groups (AWS JSON, Terraform, CloudFormation) as a VPC
topology, chosen by content. See :mod:`harness.formats.imports.deployment` for the choices an
import makes where the input is silent."""
