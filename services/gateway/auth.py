"""Accounts and login sessions, in the gateway's own database.

Passwords are kept as Argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended profile). A login hands out an opaque random token once; the database keeps
only its SHA-256, so a copy of the database logs nobody in. Sessions expire; an expired
or unknown token is the same 401.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qunping.core.errors import Refused

# The role names are the shared library's (the services decide by them too), re-exported.
from qunping.core.roles import ASSESSOR, AUDITOR, DISTRICT_ADMIN, ORGANISER, ROLES, SCRUTINEER

__all__ = [
    "ASSESSOR",
    "AUDITOR",
    "DISTRICT_ADMIN",
    "ORGANISER",
    "ROLES",
    "SCRUTINEER",
    "Accounts",
    "Login",
    "Principal",
    "token_digest",
]

_hasher = PasswordHasher()
# Verifying against this when the user is unknown takes as long as a real check, so the
# answer's timing does not tell which usernames exist.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: a logged-in account, or nobody (a voter needs no account)."""

    username: str
    role: str
    community: str | None
    csrf: str

    @property
    def actor(self) -> dict[str, Any]:
        """What a staff command carries to the services, and their events record."""
        return {"username": self.username, "role": self.role, "community": self.community}

    def may_act_for(self, community: str) -> bool:
        """An organiser acts only for their own community; the other roles are district-wide."""
        return self.role != ORGANISER or self.community == community


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    expires_at: datetime
    principal: Principal


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, database: Database[dict[str, Any]], session_minutes: int) -> None:
        self.accounts = database["accounts"]
        self.sessions = database["sessions"]
        self.session_minutes = session_minutes

    def ensure_indexes(self) -> None:
        # MongoDB drops expired sessions itself; `principal` checks the expiry regardless.
        self.sessions.create_index("expires_at", expireAfterSeconds=0)

    def create(self, username: str, password: str, role: str, community: str | None) -> None:
        try:
            self.accounts.insert_one(
                {
                    "_id": username,
                    "password_hash": _hasher.hash(password),
                    "role": role,
                    "community": community,
                    "created_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            raise Refused(f"account {username} exists") from None

    def list(self) -> list[dict[str, Any]]:
        return [
            {"username": doc["_id"], "role": doc["role"], "community": doc["community"]}
            for doc in self.accounts.find({}, sort=[("_id", 1)])
        ]

    def login(self, username: str, password: str) -> Login | None:
        account = self.accounts.find_one({"_id": username})
        try:
            _hasher.verify(account["password_hash"] if account else _UNKNOWN_USER_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None:
            return None
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(minutes=self.session_minutes)
        principal = Principal(
            username, account["role"], account["community"], secrets.token_urlsafe(24)
        )
        self.sessions.insert_one(
            {
                "_id": token_digest(token),
                "username": username,
                "role": principal.role,
                "community": principal.community,
                "csrf": principal.csrf,
                "expires_at": expires_at,
            }
        )
        return Login(token, expires_at, principal)

    def principal(self, token: str) -> Principal | None:
        session = self.sessions.find_one({"_id": token_digest(token)})
        if session is None or session["expires_at"] <= datetime.now(UTC):
            return None
        return Principal(
            session["username"], session["role"], session["community"], session["csrf"]
        )

    def logout(self, token: str) -> None:
        self.sessions.delete_one({"_id": token_digest(token)})
