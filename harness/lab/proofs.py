"""A persistent lab's last proof: the matrix ``sgh matrix`` (the console, the pytest plugin)
measured last, kept beside the lab's state, so that the next run probes only the pairs a
change can affect (:func:`harness.lab.measure.reprove`) and carries the rest over.

The file is the lab's own (written after each measure, replaced atomically); one that cannot
be read (written by another version of sg-harness, cut short) is no proof: the next run probes
every cell, and says why.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from harness.core.matrix import Matrix
from harness.core.phases import Phases

NAME = "proven.pickle"


def load(directory: Path, phases: Phases) -> Matrix | None:
    path = directory / NAME
    try:
        with path.open("rb") as handle:
            found = pickle.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
        phases.note(f"the last proof ({path}) cannot be read ({err}): every cell is probed")
        return None
    if not isinstance(found, Matrix):
        phases.note(f"the last proof ({path}) is not a matrix: every cell is probed")
        return None
    return found


def save(directory: Path, matrix: Matrix) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / NAME
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        pickle.dump(matrix, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)


def forget(directory: Path) -> None:
    (directory / NAME).unlink(missing_ok=True)
