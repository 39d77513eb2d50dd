"""``sgh lint --sarif``: findings as SARIF 2.1.0, for code-scanning UIs.

Each result points at the user's own source: the file and line where the group or rule was
written (a topology YAML, a ``.tf`` file, a CloudFormation template), with the construct as
its logical location. Paths under the base directory (the repository a CI job checks out) are
written relative to it, so that a code-scanning UI finds them; others as ``file://`` URIs.
Whether the finding is reachable, and the proof when there is one, are part of its message.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath
from typing import Any

from harness.core.audit import KINDS, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/sg-harness/sg-harness"


def document(findings: list[Finding], source: str, base: str, version: str) -> dict[str, Any]:
    """The SARIF log of one lint run on ``source`` (the file findings without an origin of
    their own are reported on); ``base`` is the absolute directory paths are relative to."""
    kinds = sorted({finding.kind for finding in findings}, key=list(KINDS).index)
    index = {kind: n for n, kind in enumerate(kinds)}
    rules = [
        {
            "id": kind,
            "name": "".join(word.title() for word in kind.split("-")),
            "shortDescription": {"text": KINDS[kind].title},
            "fullDescription": {"text": KINDS[kind].help},
            "defaultConfiguration": {"level": KINDS[kind].level},
            "properties": {"tags": ["security", "security-groups"]},
        }
        for kind in kinds
    ]
    results = [_result(finding, index[finding.kind], source, base) for finding in findings]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sg-harness",
                        "informationUri": INFORMATION_URI,
                        "version": version,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": PurePosixPath(base).as_uri() + "/"}},
                "results": results,
            }
        ],
    }


def _result(finding: Finding, rule_index: int, source: str, base: str) -> dict[str, Any]:
    text = f"{finding.where}: {finding.message}"
    if finding.reach is not None:
        text += f". {finding.reach.text[0].upper()}{finding.reach.text[1:]}"
    if finding.proof:
        text += f". {finding.proof}"
    if finding.detail:
        text += ": " + "; ".join(finding.detail)
    origin = finding.origin
    physical: dict[str, Any] = {"artifactLocation": uri(origin.file if origin else source, base)}
    if origin is not None and origin.line > 0:
        physical["region"] = {"startLine": origin.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if origin is not None and origin.construct:
        location["logicalLocations"] = [{"fullyQualifiedName": origin.construct}]
    return {
        "ruleId": finding.kind,
        "ruleIndex": rule_index,
        "level": finding.level,
        "message": {"text": text},
        "locations": [location],
    }


def uri(path: str, base: str) -> dict[str, str]:
    """An artifact location: relative to ``base`` when under it, else a file URI."""
    pure = PurePosixPath(posixpath.normpath(posixpath.join(base, path)))
    try:
        return {"uri": pure.relative_to(base).as_posix(), "uriBaseId": "%SRCROOT%"}
    except ValueError:
        return {"uri": pure.as_uri()}
