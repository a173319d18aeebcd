"""Accounts made from the command line: `qunping gateway create-account`, and the accounts
`qunping run` creates once so a fresh machine has someone who can log in: the platform's
admin, and the sample district (a tenant) with its own admin."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qunping.core.errors import Refused
from qunping.core.schemas import load
from services.gateway.auth import COMMAND_LINE, DISTRICT_ADMIN, PLATFORM_ADMIN, Accounts
from services.gateway.schemas import NewAccount

LOCAL_ADMIN = "admin"
PASSWORD_FILE = "admin-password"
SAMPLE_DISTRICT = "吉州区"
SAMPLE_DISTRICT_ADMIN = "jizhou-admin"
SAMPLE_PASSWORD_FILE = "district-admin-password"


def create_account(accounts: Accounts, request: dict[str, Any]) -> None:
    """The checks of `POST /api/accounts` and a district that exists: each field's message,
    nothing written."""
    account = load(NewAccount(), request)
    district = account["district"]
    if district is not None and not accounts.district_exists(district):
        raise Refused(f"no district {district}: the platform's admin creates it first")
    accounts.create(
        account["username"],
        account["password"],
        account["role"],
        account["community"],
        district=district,
    )


def ensure_local_admin(accounts: Accounts, home: Path) -> Path:
    """Create the local platform admin once; its generated password is kept, readable by
    this user only, in `home/admin-password`. Returns that file."""
    return _once(
        home / PASSWORD_FILE,
        lambda password: create_account(
            accounts, {"username": LOCAL_ADMIN, "password": password, "role": PLATFORM_ADMIN}
        ),
    )


def ensure_sample_district(accounts: Accounts, home: Path) -> Path:
    """Create the sample's district, 吉州区, once, with its own admin, whose password is
    kept as the platform admin's is, in `home/district-admin-password`. Returns that file."""

    def create(password: str) -> None:
        if not accounts.district_exists(SAMPLE_DISTRICT):
            accounts.create_district(SAMPLE_DISTRICT, COMMAND_LINE)
        create_account(
            accounts,
            {
                "username": SAMPLE_DISTRICT_ADMIN,
                "password": password,
                "role": DISTRICT_ADMIN,
                "district": SAMPLE_DISTRICT,
            },
        )

    return _once(home / SAMPLE_PASSWORD_FILE, create)


def _once(password_file: Path, create: Callable[[str], None]) -> Path:
    if password_file.exists():
        return password_file
    password = secrets.token_urlsafe(18)
    password_file.parent.mkdir(parents=True, exist_ok=True)
    # The file exists with mode 0600 before the password is in it, and before the account.
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(password + "\n")
    try:
        create(password)
    except BaseException:
        password_file.unlink()
        raise
    return password_file
