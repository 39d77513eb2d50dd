"""Every exit status of the harness's commands, in one place.

``sgh``: 0 every cell agrees with the rules (or the command did what it said); 1 a cell
disagrees or could not be probed, a replay step differs, lint found something; 2 invalid
input or a missing prerequisite (one line on stderr, no traceback); 3 ``sgh diff``'s gate
(the change opens a cell to outside addresses); 130 interrupted.
The ``ec2-*`` tools: 0 done; 1 EC2 refused the request; 2 the command could not run; 130.
Both: 1, silently, when the reader of their output goes away (``| head``, ``awk ... exit``).
"""

import os
import sys

OK = 0
DISAGREE = 1
REFUSED = 1
INVALID = 2
GATE = 3  # sgh diff --fail-on-open: the change opens a cell to outside addresses
INTERRUPTED = 130
READER_GONE = 1  # stdout's reader closed the pipe


def reader_gone() -> int:
    """Stop quietly when stdout's reader has gone (a broken pipe), as Unix tools do: no
    traceback, and no second error when Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return READER_GONE
