"""Sources: what ``sgh run``, ``check``, ``lint``, ``import``, ``diff`` and the pytest marker
accept, recognised by content.

- a topology file (YAML) or a Compose file: read as it is;
- a CloudFormation template (YAML or JSON);
- Terraform: ``.tf`` files or a directory of them, or the JSON of ``terraform show -json``
  (a plan or a state);
- AWS JSON: ``describe-*`` output, one file or several, or a directory of them.

Everything but a topology file is imported (:mod:`harness.formats.imports`): the result is a
VPC topology with the notes of the choices made. Which format a file is, is decided in one
place, :data:`FORMATS`: by its extension, then by its content. YAML is read with the plain
line-keeping loader; only a document with CloudFormation's short-form tags (``!Ref``) is read
again with the loader that knows them, and it must then be a template.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.model import Origin, Topology
from harness.errors import InvalidInput, TopologyError
from harness.formats import compose_file, topology_file, yaml_lines
from harness.formats.imports import aws_json, cloudformation, terraform
from harness.formats.imports.deployment import Deployment, Imported, refuse, safe_name
from harness.formats.imports.lowering import document


@dataclass(frozen=True)
class Options:
    """Values the user gives for the input's own variables and parameters."""

    variables: dict[str, str] = field(default_factory=dict)  # Terraform --var NAME=VALUE
    parameters: dict[str, str] = field(default_factory=dict)  # CloudFormation --parameter
    lenient: bool = False  # sgh lint: a bad rule is left out and kept (Loaded.dropped)
    outside: frozenset[str] = frozenset()  # --outside REF: groups that live outside the input


@dataclass(frozen=True)
class Loaded:
    topology: Topology
    imported: Imported | None = None  # None: a topology (or Compose) file, read as it is
    dropped: tuple[TopologyError, ...] = ()  # the rules left out (Options.lenient)

    @property
    def notes(self) -> tuple[str, ...]:
        return self.imported.notes if self.imported is not None else ()


@dataclass(frozen=True)
class Format:
    """A format sg-harness reads: its extensions, and how its content is recognised."""

    name: str
    suffixes: tuple[str, ...]
    recognise: Callable[[object], bool]
    imported: bool  # read by an importer (else a topology document, read as it is)


def _topology(data: object) -> bool:
    return isinstance(data, dict) and not cloudformation.is_template(data)


# In order: the first format whose extension fits and whose content is recognised is the
# file's. Terraform's .tf files are read by extension alone (HCL, by the Terraform importer).
FORMATS = (
    Format("terraform", (".tf",), lambda data: True, True),
    Format(
        "cloudformation", (".yaml", ".yml", ".json", ".template"), cloudformation.is_template, True
    ),
    Format("terraform-json", (".json",), terraform.is_terraform_json, True),
    Format("aws-json", (".json",), aws_json.is_aws_json, True),
    Format("compose", (".yaml", ".yml"), compose_file.is_compose, False),
    Format("topology", (".yaml", ".yml"), _topology, False),
)
SUFFIXES = tuple(sorted({suffix for f in FORMATS for suffix in f.suffixes}))
WHAT = (
    "a topology, Compose, CloudFormation, Terraform .tf or plan/state JSON, or AWS describe-* JSON"
)


def format_of(source: str, suffix: str, data: object) -> Format:
    """The format of a file by its extension and parsed content (one line when none fits)."""
    for candidate in FORMATS:
        if suffix in candidate.suffixes and candidate.recognise(data):
            return candidate
    raise TopologyError(source, "", f"not a format sg-harness reads ({WHAT})")


def parsed(path: Path, text: str) -> object:
    """A file's content: JSON by its extension, else YAML with every mapping's line; a
    document with CloudFormation's short-form tags is read again by the loader that knows
    them (a plain topology file never is)."""
    if path.suffix == ".json":
        data = _json(path, text)
        if not cloudformation.is_template(data):
            return data
        # Read again for its lines. JSON allows tabs between tokens where YAML (the pure-Python
        # loader) does not; valid JSON holds no raw tab inside a string, so spaces for tabs
        # change nothing but keep every line where it was.
        return cloudformation.parse(text.replace("\t", " "), str(path))
    try:
        return yaml_lines.load(text, str(path))
    except TopologyError as err:
        short_form = "!" in text and "tag" in str(err)
        if not short_form and "duplicate key" not in str(err):
            raise
        data = cloudformation.parse(text, str(path))  # CloudFormation keeps a repeat's last
        if not cloudformation.is_template(data):
            raise
        return data


def pairs(values: Sequence[str] | None, option: str) -> dict[str, str]:
    """``NAME=VALUE`` arguments as a mapping (one line naming the bad one)."""
    result: dict[str, str] = {}
    for text in values or ():
        name, equals, value = text.partition("=")
        if not equals or not name:
            raise InvalidInput(f"{option} {text!r}: give NAME=VALUE")
        result[name] = value
    return result


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TopologyError(str(path), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TopologyError(str(path), "", f"cannot read: {err}") from None


def _json(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise TopologyError(str(path), "", f"malformed JSON: {err.msg}", err.lineno) from None


def _files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".tf", ".json"))
            if not found:
                raise TopologyError(text, "", "a directory with no .tf or .json files")
            tf = [p for p in found if p.suffix == ".tf"]
            files.extend(tf or found)
        elif not path.exists():
            raise TopologyError(text, "", "no such file")
        else:
            files.append(path)
    return files


def load(paths: Sequence[str], options: Options | None = None) -> Loaded:
    """The topology the sources describe (imported when they are not a topology file)."""
    options = options or Options()
    if not paths:
        raise InvalidInput("no source given")
    files = _files(paths)
    first = files[0]
    read: dict[Path, object] = {}
    dropped: list[TopologyError] | None = [] if options.lenient else None
    if len(files) == 1 and first.suffix in (".yaml", ".yml"):
        data = parsed(first, _read(first))
        if not format_of(str(first), first.suffix, data).imported:
            topology = topology_file.from_data(data, str(first), dropped)
            return Loaded(topology, dropped=tuple(dropped or ()))
        read[first] = data
    imported = read_import(files, options, safe_name(Path(paths[0]).stem), read)
    topology = topology_file.build(imported.document, ", ".join(imported.sources), dropped)
    return Loaded(topology, imported, (*imported.dropped, *(dropped or ())))


def read_import(
    files: list[Path], options: Options, name: str, read: dict[Path, object] | None = None
) -> Imported:
    """Import files of one format into a topology document (its lab named ``name``);
    ``read`` holds files already parsed."""
    tf = [f for f in files if f.suffix == ".tf"]
    deployment = Deployment(
        sources=[str(f) for f in files],
        name=name,
        dropped=[] if options.lenient else None,
        outside_allowed=options.outside,
    )
    if tf:
        if len(tf) != len(files):
            raise TopologyError(str(files[0]), "", "give .tf files alone, not mixed with others")
        terraform.read_hcl(tf, options.variables, deployment)
        return document(deployment)
    documents: list[tuple[str, object]] = []
    for path in files:
        if path.suffix not in SUFFIXES:
            raise TopologyError(
                str(path),
                "",
                f"not a format sg-harness reads ({path.suffix or 'no'} extension: give {WHAT})",
            )
        data = read[path] if read and path in read else parsed(path, _read(path))
        documents.append((str(path), data))
    formats = {format_of(source, Path(source).suffix, data) for source, data in documents}
    kinds = {f.name for f in formats}
    if not all(f.imported for f in formats):
        raise TopologyError(
            documents[0][0], "", "a topology or Compose file is read alone, not imported"
        )
    if len(kinds) > 1:
        raise TopologyError(
            documents[0][0], "", f"sources of different formats ({', '.join(sorted(kinds))})"
        )
    kind = kinds.pop()
    if kind == "cloudformation":
        if len(documents) > 1:
            raise TopologyError(documents[1][0], "", "give one CloudFormation template")
        source, data = documents[0]
        assert isinstance(data, dict)
        cloudformation.read(source, data, options.parameters, deployment)
    elif kind == "terraform-json":
        if len(documents) > 1:
            raise TopologyError(documents[1][0], "", "give one Terraform plan or state")
        source, data = documents[0]
        assert isinstance(data, dict)
        terraform.read_json(source, data, options.variables, deployment)
    else:
        aws_json.read(documents, deployment)
    if not deployment.groups:
        raise refuse(Origin(deployment.sources[0]), "no security groups in the input")
    return document(deployment)


def load_change(
    before: Sequence[str], after: Sequence[str] | None, options: Options | None = None
) -> tuple[Loaded, Loaded]:
    """BEFORE and AFTER of ``sgh diff``: two sources, or one Terraform plan JSON (its prior
    state against its planned values). Imported sides share their outside hosts, so that an
    address class either side's rules distinguish is probed on both."""
    options = options or Options()
    if after is None:
        (path,) = before
        text = _read(Path(path))
        alone = "give BEFORE and AFTER (one source alone must be a Terraform plan JSON)"
        if Path(path).suffix != ".json":
            raise TopologyError(path, "", f"one source to diff: {alone}")
        data = _json(Path(path), text)
        if not isinstance(data, dict) or not terraform.is_terraform_json(data):
            raise TopologyError(path, "", f"not a Terraform plan JSON: {alone}")
        sides = []
        for is_before in (True, False):
            deployment = Deployment(
                sources=[path], name=safe_name(Path(path).stem), outside_allowed=options.outside
            )
            terraform.read_json(path, data, options.variables, deployment, before=is_before)
            sides.append(document(deployment))
        old, new = _aligned(sides[0], sides[1])
    else:
        first, second = load(before, options), load(after, options)
        if first.imported is None or second.imported is None:
            return first, second
        old, new = _aligned(first.imported, second.imported)
    return (
        Loaded(topology_file.build(old.document, ", ".join(old.sources)), old),
        Loaded(topology_file.build(new.document, ", ".join(new.sources)), new),
    )


def _aligned(old: Imported, new: Imported) -> tuple[Imported, Imported]:
    for one, other in ((old, new), (new, old)):
        hosts = one.document.setdefault("hosts", [])
        names = {host["name"] for host in hosts}
        addresses = {host["address"] for host in hosts}
        for host in other.document.get("hosts", []):
            if host["name"] not in names and host["address"] not in addresses:
                hosts.append(host)
    new.document["name"] = old.document["name"]
    return old, new
