"""Every error the harness raises on purpose, in one hierarchy.

    HarnessError                      base: a one-line message, an exit status
    ├── InvalidInput                  exit 2: the user's input is wrong
    │   ├── TopologyError             a topology file (path, line, item, problem)
    │   ├── Ec2Error                  EC2's own error codes (InvalidGroup.NotFound, ...)
    │   │   └── AuthFailure           the Query API refused a request's credentials (HTTP 401)
    │   └── LabNotFound               no lab of that name (or no current lab) in a home
    ├── PrerequisiteError             exit 2: something the machine lacks (Docker, root, images)
    ├── LabError                      exit 2: the lab could not be built or run
    └── NotEquivalent                 exit 1: lint's condensed rules are not proven equivalent

Third-party errors (Docker SDK, OS errors) are mapped to these at the boundary of the layer that
calls them, so the command line never shows a traceback for a known failure.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of all deliberate harness errors; ``str(err)`` is a one-line message."""

    exit_code = 2


class InvalidInput(HarnessError):
    """The input (a topology, an API call) is invalid."""


class Ec2Error(InvalidInput):
    """An error EC2 itself would return, with its code (``InvalidGroup.NotFound``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AuthFailure(Ec2Error):
    """The Query API refused a request's credentials (EC2's ``AuthFailure`` and kin, 401)."""

    http_status = 401

    def __init__(self, message: str, code: str = "AuthFailure") -> None:
        super().__init__(code, message)


class LabNotFound(InvalidInput):
    """No lab of that name (or no current lab) in a home."""


class TopologyError(InvalidInput):
    """A topology file is invalid; the message names the file, the item and the problem."""

    def __init__(self, source: str, where: str, problem: str, line: int | None = None) -> None:
        location = f"{source}:{line}" if line is not None else source
        parts = [location]
        if where:
            parts.append(where)
        parts.append(problem)
        super().__init__(": ".join(parts))
        self.source = source
        self.where = where
        self.problem = problem
        self.line = line


class PrerequisiteError(HarnessError):
    """The machine lacks something the harness needs (Docker engine, root, images)."""


class LabError(HarnessError):
    """The lab could not be built, changed or probed."""


class NotEquivalent(HarnessError):
    """A rule set offered as equivalent to another is not (lint's proof failed)."""

    exit_code = 1
