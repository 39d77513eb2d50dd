"""Named services: the console's "Connection Method" presets, and the ports lint guards.

``PRESETS`` lets a topology rule say ``{service: https, source: 0.0.0.0/0}`` as the 2012
console's list did (HTTP, HTTPS, SSH, RDP, SMTP, ..., DNS). ``SENSITIVE`` lists administrative
and database services that should never be open to the whole internet: "it would be crazy to
allow every computer in the world access to services like RDP, FTP, database services" (the
second seed). Web ports (80, 443) are meant to be public and are not in it.
"""

from __future__ import annotations

from harness.core.model import Protocol

# name -> (protocol, from_port, to_port) rules it stands for
PRESETS: dict[str, tuple[tuple[Protocol, int, int], ...]] = {
    "http": ((Protocol.TCP, 80, 80),),
    "https": ((Protocol.TCP, 443, 443),),
    "ssh": ((Protocol.TCP, 22, 22),),
    "rdp": ((Protocol.TCP, 3389, 3389),),
    "smtp": ((Protocol.TCP, 25, 25),),
    "smtps": ((Protocol.TCP, 465, 465),),
    "pop3": ((Protocol.TCP, 110, 110),),
    "pop3s": ((Protocol.TCP, 995, 995),),
    "imap": ((Protocol.TCP, 143, 143),),
    "imaps": ((Protocol.TCP, 993, 993),),
    "ldap": ((Protocol.TCP, 389, 389),),
    "mssql": ((Protocol.TCP, 1433, 1433),),
    "mysql": ((Protocol.TCP, 3306, 3306),),
    "postgresql": ((Protocol.TCP, 5432, 5432),),
    "dns": ((Protocol.UDP, 53, 53), (Protocol.TCP, 53, 53)),
    "dns-udp": ((Protocol.UDP, 53, 53),),
    "dns-tcp": ((Protocol.TCP, 53, 53),),
    "all-tcp": ((Protocol.TCP, 0, 65535),),
    "all-udp": ((Protocol.UDP, 0, 65535),),
    "all-icmp": ((Protocol.ICMP, -1, -1),),
}

# (protocol, port) -> name, for services that must not face the world
SENSITIVE: dict[tuple[Protocol, int], str] = {
    (Protocol.TCP, 20): "FTP data",
    (Protocol.TCP, 21): "FTP",
    (Protocol.TCP, 22): "SSH",
    (Protocol.TCP, 23): "Telnet",
    (Protocol.TCP, 135): "MS RPC",
    (Protocol.TCP, 139): "NetBIOS",
    (Protocol.TCP, 445): "SMB",
    (Protocol.TCP, 1433): "MSSQL",
    (Protocol.UDP, 1434): "MSSQL browser",
    (Protocol.TCP, 1521): "Oracle",
    (Protocol.TCP, 2375): "Docker API",
    (Protocol.TCP, 2379): "etcd",
    (Protocol.TCP, 3306): "MySQL",
    (Protocol.TCP, 3389): "RDP",
    (Protocol.TCP, 5432): "PostgreSQL",
    (Protocol.TCP, 5900): "VNC",
    (Protocol.TCP, 5984): "CouchDB",
    (Protocol.TCP, 6379): "Redis",
    (Protocol.TCP, 9200): "Elasticsearch",
    (Protocol.TCP, 11211): "Memcached",
    (Protocol.UDP, 11211): "Memcached",
    (Protocol.TCP, 27017): "MongoDB",
    (Protocol.UDP, 161): "SNMP",
    # the rest of Trusted Advisor's red list (HCP4007jGY) and prowler's service checks
    (Protocol.TCP, 1434): "MSSQL monitor",
    (Protocol.TCP, 2483): "Oracle",
    (Protocol.TCP, 2484): "Oracle TLS",
    (Protocol.TCP, 4333): "mSQL",
    (Protocol.TCP, 5500): "VNC listener",
    (Protocol.TCP, 5601): "Kibana",
    (Protocol.TCP, 7199): "Cassandra JMX",
    (Protocol.TCP, 8888): "Cassandra OpsCenter",
    (Protocol.TCP, 9092): "Kafka",
    (Protocol.TCP, 9160): "Cassandra Thrift",
    (Protocol.TCP, 9300): "Elasticsearch transport",
    (Protocol.TCP, 27018): "MongoDB shard",
}

# (protocol, port) -> name: prowler's ``ec2_high_risk_ports`` that are not in SENSITIVE
HIGH_RISK: dict[tuple[Protocol, int], str] = {
    (Protocol.TCP, 110): "POP3",
    (Protocol.TCP, 143): "IMAP",
    (Protocol.TCP, 3000): "dev web servers",
    (Protocol.TCP, 5000): "dev web servers",
    (Protocol.TCP, 8080): "HTTP alternate",
    (Protocol.TCP, 8088): "HTTP alternate",
}

# Ports meant to face the world: Trusted Advisor's green list (web and mail submission)
PUBLIC: frozenset[tuple[Protocol, int]] = frozenset(
    {(Protocol.TCP, 80), (Protocol.TCP, 443), (Protocol.TCP, 25), (Protocol.TCP, 465)}
)
