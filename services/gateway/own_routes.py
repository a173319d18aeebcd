"""The routes the gateway answers itself: logging in and out, accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.gateway.api import Caller, Unauthenticated
from services.gateway.auth import Accounts, Login


def login_answer(login: Login) -> dict[str, Any]:
    return {
        "token": login.token,
        "expires_at": login.expires_at.isoformat(),
        "username": login.principal.username,
        "role": login.principal.role,
        "community": login.principal.community,
    }


def own_routes(accounts: Accounts) -> dict[str, Callable[[dict[str, Any], Caller], Any]]:
    def login(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        answer = accounts.login(payload["username"], payload["password"])
        if answer is None:
            raise Unauthenticated("wrong username or password")
        return login_answer(answer)

    def logout(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.token is not None:
            accounts.logout(caller.token)
        return {}

    def me(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        assert caller.principal is not None  # the route is for logged-in roles only
        return {
            "username": caller.principal.username,
            "role": caller.principal.role,
            "community": caller.principal.community,
        }

    def create_account(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        accounts.create(
            payload["username"], payload["password"], payload["role"], payload["community"]
        )
        return {"username": payload["username"], "role": payload["role"]}

    def list_accounts(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"accounts": accounts.list()}

    return {
        "login": login,
        "logout": logout,
        "me": me,
        "create_account": create_account,
        "accounts": list_accounts,
    }
