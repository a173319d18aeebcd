"""Accounts and login sessions, in the gateway's own database.

Passwords are kept as Argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended profile). A login hands out an opaque random token once; the database keeps
only its SHA-256, so a copy of the database logs nobody in. Sessions expire; an expired,
revoked or unknown token is the same 401.

An account's life: created, disabled and enabled again (disabling ends its sessions at
once), its password changed by its owner or reset by an admin (ending its other sessions),
locked for a while after repeated failed logins and unlocked by time or by an admin. The
failure count and the lock live in the database, so they hold across gateway replicas.
Every change is kept in `account_changes` with the account that made it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qunping.core.errors import NotFound, Refused

# The role names are the shared library's (the services decide by them too), re-exported.
from qunping.core.roles import (
    ASSESSOR,
    AUDITOR,
    DISTRICT_ADMIN,
    ORGANISER,
    PLATFORM_ADMIN,
    ROLES,
    SCRUTINEER,
)

__all__ = [
    "ASSESSOR",
    "AUDITOR",
    "COMMAND_LINE",
    "DISTRICT_ADMIN",
    "ORGANISER",
    "PLATFORM_ADMIN",
    "ROLES",
    "SCRUTINEER",
    "Accounts",
    "Login",
    "Principal",
    "token_digest",
]

COMMAND_LINE = "(command line)"
"""Who made a change straight in the database: `qunping gateway create-account`, `qunping run`."""

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
    district: str | None = None
    """The district the account belongs to; None for the platform's admin only."""

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
    def __init__(
        self,
        database: Database[dict[str, Any]],
        session_minutes: int,
        lockout_failures: int = 5,
        lockout_minutes: int = 15,
    ) -> None:
        self.accounts = database["accounts"]
        self.sessions = database["sessions"]
        self.changes = database["account_changes"]
        self.districts = database["districts"]
        self.session_minutes = session_minutes
        self.lockout_failures = lockout_failures
        self.lockout_minutes = lockout_minutes

    def ensure_indexes(self) -> None:
        # MongoDB drops expired sessions itself; `principal` checks the expiry regardless.
        self.sessions.create_index("expires_at", expireAfterSeconds=0)
        self.sessions.create_index("username")
        self.sessions.create_index("session_id", unique=True, sparse=True)

    def _record(
        self, by: str, account: str, district: str | None, change: str, **details: Any
    ) -> None:
        self.changes.insert_one(
            {
                "at": datetime.now(UTC),
                "by": by,
                "account": account,
                "district": district,
                "change": change,
                **details,
            }
        )

    def _account(self, username: str, district: str | None) -> dict[str, Any]:
        """The account `username` of `district`: another district's is as if there were none."""
        account = self.accounts.find_one({"_id": username, "district": district})
        if account is None:
            raise NotFound(f"no account {username}")
        return account

    def create(
        self,
        username: str,
        password: str,
        role: str,
        community: str | None,
        *,
        district: str | None,
        by: str = COMMAND_LINE,
    ) -> None:
        """An account of `district` (None: the platform's admin, of no district)."""
        if (role == PLATFORM_ADMIN) != (district is None):
            raise Refused("a platform admin has no district; every other account has one")
        try:
            self.accounts.insert_one(
                {
                    "_id": username,
                    "password_hash": _hasher.hash(password),
                    "role": role,
                    "community": community,
                    "district": district,
                    "created_at": datetime.now(UTC),
                    "disabled": False,
                    "failed_logins": 0,
                    "locked_until": None,
                }
            )
        except DuplicateKeyError:
            raise Refused(f"account {username} exists") from None
        self._record(by, username, district, "created", role=role, community=community)

    def create_district(self, district: str, by: str) -> None:
        try:
            self.districts.insert_one({"_id": district, "created_at": datetime.now(UTC)})
        except DuplicateKeyError:
            raise Refused(f"district {district} exists") from None
        self.changes.insert_one(
            {"at": datetime.now(UTC), "by": by, "district": district, "change": "district created"}
        )

    def exists(self, username: str) -> bool:
        return self.accounts.find_one({"_id": username}, {"_id": 1}) is not None

    def district_exists(self, district: str) -> bool:
        return self.districts.find_one({"_id": district}) is not None

    def district_names(self) -> list[str]:
        return [str(doc["_id"]) for doc in self.districts.find({}, sort=[("_id", 1)])]

    def every(self, district: str | None = None) -> list[dict[str, Any]]:
        """The accounts of `district`, or (None) of every district and the platform."""
        now = datetime.now(UTC)
        query = {} if district is None else {"district": district}
        return [
            {
                "username": doc["_id"],
                "role": doc["role"],
                "community": doc["community"],
                "district": doc.get("district"),
                "disabled": bool(doc.get("disabled")),
                "locked": _locked(doc, now),
            }
            for doc in self.accounts.find(query, sort=[("_id", 1)])
        ]

    def login(self, username: str, password: str) -> Login | None:
        """A session, or None: wrong password, unknown, disabled or locked account alike
        (the answer does not say which usernames exist or are locked)."""
        account = self.accounts.find_one({"_id": username})
        try:
            _hasher.verify(account["password_hash"] if account else _UNKNOWN_USER_HASH, password)
        except (VerificationError, InvalidHashError):
            if account is not None:
                self._failed(username)
            return None
        if account is None or account.get("disabled") or _locked(account, datetime.now(UTC)):
            return None
        if account.get("failed_logins"):
            self.accounts.update_one({"_id": username}, {"$set": {"failed_logins": 0}})
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires_at = now + timedelta(minutes=self.session_minutes)
        principal = Principal(
            username,
            account["role"],
            account["community"],
            secrets.token_urlsafe(24),
            account.get("district"),
        )
        self.sessions.insert_one(
            {
                "_id": token_digest(token),
                "session_id": secrets.token_hex(8),
                "username": username,
                "role": principal.role,
                "community": principal.community,
                "district": principal.district,
                "csrf": principal.csrf,
                "created_at": now,
                "expires_at": expires_at,
            }
        )
        return Login(token, expires_at, principal)

    def _failed(self, username: str) -> None:
        """Count a failed login; the `lockout_failures`th in a row locks the account. The
        count is one atomic update in the database, whichever replica saw the failure."""
        account = self.accounts.find_one_and_update(
            {"_id": username},
            {"$inc": {"failed_logins": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if account is None or account["failed_logins"] < self.lockout_failures:
            return
        until = datetime.now(UTC) + timedelta(minutes=self.lockout_minutes)
        locked = self.accounts.update_one(
            {"_id": username, "failed_logins": account["failed_logins"]},
            {"$set": {"failed_logins": 0, "locked_until": until}},
        )
        if locked.modified_count:
            self._record(
                username,
                username,
                account.get("district"),
                "locked",
                failures=self.lockout_failures,
            )

    def principal(self, token: str) -> Principal | None:
        session = self.sessions.find_one({"_id": token_digest(token)})
        if session is None or session["expires_at"] <= datetime.now(UTC):
            return None
        return Principal(
            session["username"],
            session["role"],
            session["community"],
            session["csrf"],
            session.get("district"),
        )

    def logout(self, token: str) -> None:
        self.sessions.delete_one({"_id": token_digest(token)})

    # -- lifecycle ------------------------------------------------------------------------

    def set_disabled(self, username: str, disabled: bool, by: Principal) -> None:
        """Disable (its sessions end at once) or enable an account of `by`'s district."""
        self._account(username, by.district)
        if username == by.username and disabled:
            raise Refused("an admin may not disable their own account")
        self.accounts.update_one({"_id": username}, {"$set": {"disabled": disabled}})
        if disabled:
            self.sessions.delete_many({"username": username})
        self._record(by.username, username, by.district, "disabled" if disabled else "enabled")

    def change_password(self, token: str, current: str, new: str) -> None:
        """The owner of the session `token` changes their password; their other sessions end."""
        principal = self.principal(token)
        assert principal is not None  # the route is for logged-in accounts
        account = self._account(principal.username, principal.district)
        try:
            _hasher.verify(account["password_hash"], current)
        except (VerificationError, InvalidHashError):
            raise Refused("the current password is wrong") from None
        self.accounts.update_one(
            {"_id": principal.username}, {"$set": {"password_hash": _hasher.hash(new)}}
        )
        self.sessions.delete_many(
            {"username": principal.username, "_id": {"$ne": token_digest(token)}}
        )
        self._record(principal.username, principal.username, principal.district, "password changed")

    def reset_password(self, username: str, password: str, by: Principal) -> None:
        """An admin sets the password of an account of their district: its sessions end,
        any lock is lifted."""
        self._account(username, by.district)
        self.accounts.update_one(
            {"_id": username},
            {
                "$set": {
                    "password_hash": _hasher.hash(password),
                    "failed_logins": 0,
                    "locked_until": None,
                }
            },
        )
        self.sessions.delete_many({"username": username})
        self._record(by.username, username, by.district, "password reset")

    def unlock(self, username: str, by: Principal) -> None:
        self._account(username, by.district)
        self.accounts.update_one(
            {"_id": username}, {"$set": {"failed_logins": 0, "locked_until": None}}
        )
        self._record(by.username, username, by.district, "unlocked")

    def list_sessions(self, district: str | None, username: str | None) -> list[dict[str, Any]]:
        """Live sessions of `district`'s accounts (of `username` only, if given), never
        their tokens."""
        query: dict[str, Any] = {"expires_at": {"$gt": datetime.now(UTC)}, "district": district}
        if username is not None:
            query["username"] = username
        return [
            {
                "session_id": doc.get("session_id"),
                "username": doc["username"],
                "created_at": doc.get("created_at"),
                "expires_at": doc["expires_at"],
            }
            for doc in self.sessions.find(query, sort=[("expires_at", 1)])
        ]

    def revoke_session(self, session_id: str, by: Principal, any_account: bool) -> None:
        """End a session: one's own, or (`any_account`, an admin) any of one's district's."""
        query: dict[str, Any] = {"session_id": session_id, "district": by.district}
        if not any_account:
            query["username"] = by.username
        session = self.sessions.find_one_and_delete(query)
        if session is None:
            raise NotFound(f"no session {session_id}")
        self._record(
            by.username, session["username"], by.district, "session revoked", session_id=session_id
        )

    def changes_of(self, district: str | None, username: str | None) -> list[dict[str, Any]]:
        """Changes to `district`'s accounts (None: the platform's, districts created)."""
        query: dict[str, Any] = {"district": district}
        if username is not None:
            query["account"] = username
        return [
            {key: value for key, value in doc.items() if key != "_id"}
            for doc in self.changes.find(query, sort=[("at", 1), ("_id", 1)])
        ]


def _locked(account: dict[str, Any], now: datetime) -> bool:
    until = account.get("locked_until")
    if until is None:
        return False
    if until.tzinfo is None:  # MongoDB keeps UTC without the zone
        until = until.replace(tzinfo=UTC)
    return bool(until > now)
