"""What a runtime holds of a lab, in terms both runtimes answer (containers or namespaces)."""

from __future__ import annotations

from harness.core.runtime import LabKind, LabRef, Runtime


def leftovers(runtime: Runtime, lab: str | None = None) -> list[str]:
    """Every lab of this name (any kind), or every lab, that holds nodes: ``kind.name:count``."""
    return sorted(
        f"{info.kind}.{info.name}:{info.containers}"
        for info in runtime.labs()
        if (lab is None or info.name == lab) and info.containers
    )


def running(runtime: Runtime, lab: str, kind: LabKind = LabKind.PERSISTENT) -> set[str]:
    """The names of the lab's nodes that run (the switch as ``_switch``)."""
    return {name for name, state in runtime.observe(LabRef(lab, kind)).items() if state.running}


def count(runtime: Runtime, lab: str) -> int:
    """How many nodes labs of this name (any kind) hold."""
    return sum(info.containers for info in runtime.labs() if info.name == lab)
