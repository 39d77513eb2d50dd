"""Where persistent labs live: a home directory with one SQLite database per lab.

Layout of a home (``--home``, else ``$SGH_HOME``, else ``~/.sgh``)::

    HOME/current              the name of the current lab (set by ``sgh lab up``)
    HOME/keys.db              access keys made by ``sgh key add`` (for ``sgh serve``)
    HOME/labs/NAME/lab.db     the lab's control plane (its platform, accounts, VPCs, subnets,
                              groups and rules, prefix lists, tags, instances and their
                              interfaces, outside hosts: one JSON document) and what the data
                              plane last applied
    HOME/labs/NAME/lock       held (flock) by whoever changes the lab, for the whole change

Every change is one SQLite transaction (WAL, ``synchronous=FULL``): commands and processes see
one consistent lab, and a change acknowledged to a user is on disk before the answer is given.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import sqlite3
import string
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import TypeVar

from harness.core.ec2.plane import DEFAULT_REGION, Cloud, InstanceRecord
from harness.core.model import Group, GroupKey, Host, Protocol, Rule
from harness.core.reconcile import Applied
from harness.errors import InvalidInput, LabNotFound
from harness.formats import cloud_document

T = TypeVar("T")
LAB_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,29}$")
DEFAULT_LAB = "lab"

CHANGES = "changes"  # the meta key of the lab's change counter

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS groups (
    seq INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,
    group_id TEXT NOT NULL, description TEXT NOT NULL, UNIQUE (account, name));
CREATE TABLE IF NOT EXISTS rules (
    account TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL,
    protocol TEXT NOT NULL, from_port INTEGER NOT NULL, to_port INTEGER NOT NULL,
    cidr TEXT, source_account TEXT, source_name TEXT,
    PRIMARY KEY (account, name, position));
CREATE TABLE IF NOT EXISTS reservations (
    reservation_id TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    seq INTEGER PRIMARY KEY, instance_id TEXT NOT NULL UNIQUE, reservation_id TEXT NOT NULL,
    owner TEXT NOT NULL, image_id TEXT NOT NULL, address TEXT NOT NULL,
    launch_index INTEGER NOT NULL, launch_time TEXT NOT NULL, state TEXT NOT NULL,
    instance_type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instance_groups (
    instance_id TEXT NOT NULL, position INTEGER NOT NULL, account TEXT NOT NULL,
    name TEXT NOT NULL, PRIMARY KEY (instance_id, position));
CREATE TABLE IF NOT EXISTS hosts (seq INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS regions (region TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied (node TEXT PRIMARY KEY, pid INTEGER NOT NULL,
    digest TEXT NOT NULL, listing TEXT NOT NULL DEFAULT '');
"""


def _connect(path: Path) -> sqlite3.Connection:
    # One connection may serve several threads (``sgh serve``); callers serialise its use.
    db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def check_lab_name(name: str) -> str:
    if not LAB_NAME_RE.match(name):
        raise InvalidInput(
            f"lab name '{name}': use 1-30 lowercase letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    return name


class Home:
    """A home directory of labs; see the module docstring for its layout."""

    def __init__(self, path: str | Path | None = None) -> None:
        chosen = path or os.environ.get("SGH_HOME") or Path.home() / ".sgh"
        self.path = Path(chosen).expanduser().resolve()

    @property
    def labs_dir(self) -> Path:
        return self.path / "labs"

    def lab_dir(self, name: str) -> Path:
        return self.labs_dir / check_lab_name(name)

    def labs(self) -> list[str]:
        if not self.labs_dir.is_dir():
            return []
        return sorted(p.name for p in self.labs_dir.iterdir() if (p / "lab.db").exists())

    def current(self) -> str | None:
        try:
            name = (self.path / "current").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return name or None

    def set_current(self, name: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "current.tmp"
        tmp.write_text(name + "\n", encoding="utf-8")
        tmp.replace(self.path / "current")

    def resolve(self, name: str | None) -> str:
        """The lab a command acts on: ``--lab``, else ``$SGH_LAB``, else the current lab."""
        chosen = name or os.environ.get("SGH_LAB") or self.current()
        if not chosen:
            raise LabNotFound(
                f"no current lab in {self.path}; start one with 'sgh lab up' "
                "(or name one with --lab / SGH_LAB)"
            )
        return check_lab_name(chosen)

    def open(self, name: str, create: bool = False) -> Store:
        directory = self.lab_dir(name)
        if not (directory / "lab.db").exists():
            if not create:
                known = ", ".join(self.labs()) or "none"
                raise LabNotFound(
                    f"no lab named '{name}' in {self.path} (labs: {known}); "
                    f"start it with 'sgh lab up {name}'"
                )
            directory.mkdir(parents=True, exist_ok=True)
        return Store(directory, name)

    def remove(self, name: str) -> None:
        """Delete a lab's saved state (its directory); the current lab is then none."""
        directory = self.lab_dir(name)
        if not (directory / "lab.db").exists():
            raise LabNotFound(f"no lab named '{name}' in {self.path}")
        shutil.rmtree(directory)
        if self.current() == name:
            (self.path / "current").unlink(missing_ok=True)

    # -- access keys for the Query API ----------------------------------------------------

    def _keys(self) -> sqlite3.Connection:
        """The keys' database, private (0600) before a secret is written to it; SQLite gives
        its journal and WAL files the database's own mode."""
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / "keys.db"
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)  # a database made before this rule
        db = _connect(path)
        db.execute(
            "CREATE TABLE IF NOT EXISTS keys (access_key TEXT PRIMARY KEY, "
            "secret TEXT NOT NULL, account TEXT NOT NULL, created REAL NOT NULL)"
        )
        return db

    def add_key(self, account: str) -> tuple[str, str]:
        alphabet = string.ascii_uppercase + string.digits
        access = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        secret = secrets.token_urlsafe(30)[:40]
        with closing(self._keys()) as db:
            db.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?)", (access, secret, account, time.time())
            )
        return access, secret

    def key(self, access_key: str) -> tuple[str, str] | None:
        """``(secret, account)`` of a key made by ``sgh key add``, or None."""
        if not (self.path / "keys.db").exists():
            return None
        with closing(self._keys()) as db:
            row = db.execute(
                "SELECT secret, account FROM keys WHERE access_key = ?", (access_key,)
            ).fetchone()
        return (str(row[0]), str(row[1])) if row else None


class Store:
    """One lab's database. ``change`` runs an action in a transaction; ``lock`` serialises
    whole changes (database and data plane) across threads and processes."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.path = directory / "lab.db"
        self.db = _connect(self.path)
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(applied)")}
        if "listing" not in columns:  # a lab made before policies were listed
            self.db.execute("ALTER TABLE applied ADD COLUMN listing TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def lock(self) -> Iterator[None]:
        with open(self.directory / "lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta -----------------------------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- the cloud ------------------------------------------------------------------------

    def load(self, region: str | None = None) -> Cloud:
        """The lab's state: its JSON document (a lab saved before there was one: its tables).

        ``region``: the state of another region than the lab's own (control plane only: its
        instances run nowhere), empty until something is made there; it is always of the
        lab's platform."""
        return self._load(region)[0]

    def _load(self, region: str | None) -> tuple[Cloud, bool]:
        """The state of ``region``, and whether it is the lab's own region."""
        home = self._home()
        if region is None or region == home.region:
            return home, True
        row = self.db.execute("SELECT document FROM regions WHERE region = ?", (region,)).fetchone()
        return self._other(home, region, None if row is None else row[0]), False

    def _other(self, home: Cloud, region: str, document: str | None) -> Cloud:
        other = (
            Cloud(region=region) if document is None else cloud_document.loads(document, self.where)
        )
        return replace(other, platform=home.platform)

    def region(self) -> str:
        """The lab's own region, read without loading its whole state."""
        row = self.db.execute(
            "SELECT json_extract(document, '$.cloud.region') FROM state WHERE id = 1"
        ).fetchone()
        return str(row[0]) if row is not None and row[0] else DEFAULT_REGION

    def _home(self) -> Cloud:
        row = self.db.execute("SELECT document FROM state WHERE id = 1").fetchone()
        return self._load_tables() if row is None else cloud_document.loads(row[0], self.where)

    def regions(self) -> dict[str, Cloud]:
        """The lab's other regions that hold anything, by name."""
        home = self._home()
        rows = self.db.execute("SELECT region, document FROM regions ORDER BY region")
        return {region: self._other(home, region, document) for region, document in rows}

    @property
    def where(self) -> str:
        return str(self.path)

    def _load_tables(self) -> Cloud:
        """The state as labs made before the VPC era stored it, one table per kind of thing
        (read once; the next change writes the document)."""
        db = self.db
        rules: dict[tuple[str, str], list[Rule]] = {}
        for row in db.execute(
            "SELECT account, name, protocol, from_port, to_port, cidr, source_account, "
            "source_name FROM rules ORDER BY account, name, position"
        ):
            account, name, protocol, low, high, cidr, src_account, src_name = row
            rule = Rule(
                Protocol(protocol),
                int(low),
                int(high),
                cidr=IPv4Network(cidr) if cidr else None,
                group=GroupKey(src_account, src_name) if src_name else None,
            )
            rules.setdefault((account, name), []).append(rule)
        groups = tuple(
            Group(GroupKey(account, name), description, tuple(rules.get((account, name), [])))
            for account, name, description in db.execute(
                "SELECT account, name, description FROM groups ORDER BY seq"
            )
        )
        memberships: dict[str, list[GroupKey]] = {}
        for instance_id, account, name in db.execute(
            "SELECT instance_id, account, name FROM instance_groups ORDER BY instance_id, position"
        ):
            memberships.setdefault(instance_id, []).append(GroupKey(account, name))
        instances = tuple(
            InstanceRecord(
                row[0],
                row[1],
                row[2],
                row[3],
                tuple(memberships.get(row[0], [])),
                IPv4Address(row[4]),
                int(row[5]),
                row[6],
                row[7],
                row[8],
            )
            for row in db.execute(
                "SELECT instance_id, reservation_id, owner, image_id, address, launch_index, "
                "launch_time, state, instance_type FROM instances ORDER BY seq"
            )
        )
        hosts = tuple(
            Host(name, IPv4Address(address))
            for name, address in db.execute("SELECT name, address FROM hosts ORDER BY seq")
        )
        return Cloud(groups, instances, hosts)

    def changes(self) -> int:
        """How many times the lab has changed, whichever process changed it (its state, or
        what its data plane holds): a view made at one count is stale at a later one."""
        return int(self.get(CHANGES, "0"))

    @staticmethod
    def _count(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta VALUES (?, '1') "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (CHANGES,),
        )

    def _save(self, db: sqlite3.Connection, new: Cloud, home: bool) -> None:
        self._count(db)
        text = cloud_document.dumps(new)
        if home:
            db.execute("INSERT OR REPLACE INTO state VALUES (1, ?)", (text,))
        else:
            db.execute("INSERT OR REPLACE INTO regions VALUES (?, ?)", (new.region, text))

    def change(
        self, action: Callable[[Cloud], tuple[Cloud, T]], region: str | None = None
    ) -> tuple[Cloud, T]:
        """Run ``action`` on the current cloud (of ``region``: the lab's own by default) and
        commit what it returns, atomically; an error leaves the lab as it was."""
        with self.transaction() as db:
            old, home = self._load(region)
            new, result = action(old)
            if new is not old:
                self._save(db, new, home)
        return new, result

    # -- what the data plane holds --------------------------------------------------------

    def applied(self) -> dict[str, Applied]:
        return {
            node: Applied(int(pid), digest, listing)
            for node, pid, digest, listing in self.db.execute(
                "SELECT node, pid, digest, listing FROM applied"
            )
        }

    def record_applied(self, record: dict[str, Applied]) -> None:
        """What the data plane holds now, node by node (replacing the previous record)."""
        with self.transaction() as db:
            self._count(db)
            db.execute("DELETE FROM applied")
            db.executemany(
                "INSERT INTO applied VALUES (?, ?, ?, ?)",
                [(node, a.pid, a.digest, a.listing) for node, a in record.items()],
            )

    def forget_applied(self) -> None:
        with self.transaction() as db:
            self._count(db)
            db.execute("DELETE FROM applied")
