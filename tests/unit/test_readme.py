"""The README's topology example is a valid topology (docs that match the code)."""

from __future__ import annotations

import re
from pathlib import Path

from harness.core.model import GroupKey
from harness.formats import topology_file

ROOT = Path(__file__).resolve().parents[2]


def test_readme_topology_example_loads() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Topology files", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    topo = topology_file.loads(example.group(1), "README.md")
    names = [i.name for i in topo.instances]
    assert names[:2] == ["web-1", "web-2"] and "admin" in names and "nginx" in names
    default = topo.group(GroupKey("111122223333", "default"))
    assert len(default.rules) == 4
    db = topo.group(GroupKey("111122223333", "dbserver"))
    assert len(db.rules) == 4  # 3306 from appserver, 8000-8080 from two CIDRs, icmp
    assert str(topo.nodes_by_name["pinned"].address) == "10.254.9.9"


def test_readme_carries_the_plugin_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "tests" / "integration" / "test_example_plugin.py").read_text()
    assert f"```python\n{example}```" in readme
