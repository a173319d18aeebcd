"""Accounts made from the command line: `qunping gateway create-account`, and the district
admin `qunping run` creates once so a fresh machine has someone who can log in."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from qunping.core.schemas import load
from services.gateway.auth import DISTRICT_ADMIN, Accounts
from services.gateway.schemas import CreateAccount

LOCAL_ADMIN = "admin"
PASSWORD_FILE = "admin-password"


def create_account(accounts: Accounts, request: dict[str, Any]) -> None:
    """The same checks as `POST /api/accounts`: each field's message, nothing written."""
    account = load(CreateAccount(), request)
    accounts.create(account["username"], account["password"], account["role"], account["community"])


def ensure_local_admin(accounts: Accounts, home: Path) -> Path:
    """Create the local district admin once; its generated password is kept, readable by
    this user only, in `home/admin-password`. Returns that file."""
    password_file = home / PASSWORD_FILE
    if password_file.exists():
        return password_file
    password = secrets.token_urlsafe(18)
    home.mkdir(parents=True, exist_ok=True)
    # The file exists with mode 0600 before the password is in it, and before the account.
    descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(password + "\n")
    try:
        create_account(
            accounts, {"username": LOCAL_ADMIN, "password": password, "role": DISTRICT_ADMIN}
        )
    except BaseException:
        password_file.unlink()
        raise
    return password_file
