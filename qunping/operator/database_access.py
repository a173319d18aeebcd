"""Who may do what in MongoDB: one user per service, writing its own database only.

The same rules as the Helm chart's `MongoDBCommunity` users (a chart test compares them)
and compose's `mongo-users.js` (generated from here): each service `readWrite` on its own
database; the gateway's holds only its accounts and sessions, so the internet-facing
service cannot write a log; the audit reads every log and writes only its scratch
database. Every user may also read, or record first, the deployment's identity and never
change it (qunping.core.deployment).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo.database import Database

from qunping.core import registry

IDENTITY_ROLE = "qunping-deployment-identity"
USER_PREFIX = "qunping-"


@dataclass(frozen=True)
class DatabaseUser:
    service: str
    writes: str
    """The one database it may write (its own, or the audit's scratch database)."""
    reads: tuple[str, ...] = ()


USERS: tuple[DatabaseUser, ...] = tuple(
    DatabaseUser(
        service.name, service.writes, reads=registry.logs() if service.reads_every_log else ()
    )
    for service in registry.SERVICES
)


def identity_role(prefix: str) -> dict[str, Any]:
    return {
        "role": IDENTITY_ROLE,
        "privileges": [
            {
                "resource": {"db": f"{prefix}deployment", "collection": "identity"},
                "actions": ["find", "insert", "createCollection"],
            }
        ],
        "roles": [],
    }


def roles_of(user: DatabaseUser, prefix: str) -> list[dict[str, str]]:
    return [
        {"role": "readWrite", "db": f"{prefix}{user.writes}"},
        {"role": IDENTITY_ROLE, "db": "admin"},
        *({"role": "read", "db": f"{prefix}{log}"} for log in user.reads),
    ]


def provision(admin: Database[Any], prefix: str, passwords: Mapping[str, str]) -> None:
    """Create (or update) the identity role and a user per service in `admin`."""
    role = identity_role(prefix)
    existing = {r["role"] for r in admin.command("rolesInfo", 1)["roles"]}
    verb = "updateRole" if IDENTITY_ROLE in existing else "createRole"
    admin.command(verb, IDENTITY_ROLE, privileges=role["privileges"], roles=role["roles"])
    users = {u["user"] for u in admin.command("usersInfo", 1)["users"]}
    for user in USERS:
        name = f"{USER_PREFIX}{user.service}"
        verb = "updateUser" if name in users else "createUser"
        admin.command(verb, name, pwd=passwords[user.service], roles=roles_of(user, prefix))


COMPOSE_SCRIPT = Path(__file__).resolve().parents[2] / "deploy/compose/mongo-users.js"


def password_variable(service: str) -> str:
    """The environment variable holding a service's MongoDB password in compose."""
    return f"QUNPING_{service.upper()}_MONGO_PASSWORD"


def compose_script(prefix: str = "qunping_") -> str:
    """mongosh script for the mongo image's first start (/docker-entrypoint-initdb.d): the
    role and the users above, each password from its environment variable."""
    role = identity_role(prefix)
    lines = [
        "// Generated from qunping/operator/database_access.py by write_compose_script();"
        " do not edit.",
        "// Run once by the mongo image, as its root user, when the data volume is new.",
        'const admin = db.getSiblingDB("admin");',
        f"admin.createRole({json.dumps(role)});",
    ]
    for user in USERS:
        variable = password_variable(user.service)
        spec = {"user": f"{USER_PREFIX}{user.service}", "roles": roles_of(user, prefix)}
        lines.append(
            f"admin.createUser(Object.assign({json.dumps(spec)}, {{pwd: process.env.{variable}}}));"
        )
    return "\n".join(lines) + "\n"


def write_compose_script() -> None:
    COMPOSE_SCRIPT.write_text(compose_script())
