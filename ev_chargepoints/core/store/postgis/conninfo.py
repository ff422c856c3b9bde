"""libpq connection strings (``postgresql://`` URIs and ``key=value`` conninfo): their
fields, and a name for them that is safe for logs and messages (never a secret)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_URI = re.compile(r"^postgres(ql)?://", re.IGNORECASE)


def is_uri(text: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) address."""
    return bool(_URI.match(text))


def conninfo_fields(conninfo: str) -> dict[str, str]:
    """``key=value`` pairs of a libpq conninfo string (values may be quoted)."""
    fields = {}
    for match in re.finditer(r"(\w+)\s*=\s*('((?:\\.|[^'])*)'|\S+)", conninfo):
        key = match.group(1).lower()
        value = match.group(3) if match.group(3) is not None else match.group(2)
        fields[key] = value.replace("\\'", "'").replace("\\\\", "\\")
    return fields


def describe_conninfo(conninfo: str) -> str:
    """'PostgreSQL evcp on db.example:5432 (service london)' — no user secrets."""
    if is_uri(conninfo):
        parts = urlsplit(conninfo)
        db = unquote(parts.path.lstrip("/")) or "(default database)"
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return f"PostgreSQL {db} on {host}{port}"
    fields = conninfo_fields(conninfo)
    if "service" in fields and "dbname" not in fields:
        return f"PostgreSQL service {fields['service']}"
    db = fields.get("dbname", "(default database)")
    host = fields.get("host") or fields.get("hostaddr") or "localhost"
    port = f":{fields['port']}" if "port" in fields else ""
    service = f" (service {fields['service']})" if "service" in fields else ""
    return f"PostgreSQL {db} on {host}{port}{service}"
