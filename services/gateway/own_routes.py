"""The routes the gateway answers itself: logging in and out, accounts and their sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qunping.core.errors import Refused
from services.gateway.api import Caller, Forbidden, Unauthenticated
from services.gateway.auth import DISTRICT_ADMIN, PLATFORM_ADMIN, Accounts, Login, Principal


def login_answer(login: Login) -> dict[str, Any]:
    return {
        "token": login.token,
        "expires_at": login.expires_at.isoformat(),
        "username": login.principal.username,
        "role": login.principal.role,
        "community": login.principal.community,
        "district": login.principal.district,
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
            "district": caller.principal.district,
        }

    def create_account(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        admin = acting(caller)
        accounts.create(
            payload["username"],
            payload["password"],
            payload["role"],
            payload["community"],
            district=admin.district,
            by=admin.username,
        )
        return {"username": payload["username"], "role": payload["role"]}

    def create_district(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        platform = acting(caller).username
        if accounts.exists(payload["admin_username"]):
            raise Refused(f"account {payload['admin_username']} exists")
        accounts.create_district(payload["district"], platform)
        accounts.create(
            payload["admin_username"],
            payload["admin_password"],
            DISTRICT_ADMIN,
            None,
            district=payload["district"],
            by=platform,
        )
        return {"district": payload["district"], "admin": payload["admin_username"]}

    def districts(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return {"districts": accounts.district_names()}

    def list_accounts(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        principal = acting(caller)
        # The platform's admin reads every district's; a district's admin their own.
        everywhere = principal.role == PLATFORM_ADMIN
        return {"accounts": accounts.every(None if everywhere else principal.district)}

    def set_disabled(disabled: bool) -> Callable[[dict[str, Any], Caller], Any]:
        def answer(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
            accounts.set_disabled(payload["username"], disabled, acting(caller))
            return {"username": payload["username"], "disabled": disabled}

        return answer

    def reset_password(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        accounts.reset_password(payload["username"], payload["password"], acting(caller))
        return {"username": payload["username"]}

    def unlock_account(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        accounts.unlock(payload["username"], acting(caller))
        return {"username": payload["username"]}

    def account_changes(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        district = acting(caller).district
        return {"changes": accounts.changes_of(district, payload["username"])}

    def change_password(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        assert caller.token is not None
        accounts.change_password(caller.token, payload["current_password"], payload["new_password"])
        return {}

    def sessions(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        principal = acting(caller)
        if principal.role == DISTRICT_ADMIN:
            return {"sessions": accounts.list_sessions(principal.district, payload["username"])}
        if payload["username"] not in (None, principal.username):
            raise Forbidden("an account sees only its own sessions")
        return {"sessions": accounts.list_sessions(principal.district, principal.username)}

    def revoke_session(payload: dict[str, Any], caller: Caller) -> dict[str, Any]:
        principal = acting(caller)
        accounts.revoke_session(payload["session_id"], principal, principal.role == DISTRICT_ADMIN)
        return {"session_id": payload["session_id"]}

    return {
        "login": login,
        "logout": logout,
        "me": me,
        "create_account": create_account,
        "create_district": create_district,
        "districts": districts,
        "accounts": list_accounts,
        "disable_account": set_disabled(True),
        "enable_account": set_disabled(False),
        "reset_password": reset_password,
        "unlock_account": unlock_account,
        "account_changes": account_changes,
        "change_password": change_password,
        "sessions": sessions,
        "revoke_session": revoke_session,
    }


def acting(caller: Caller) -> Principal:
    """The logged-in account of a route for staff only."""
    assert caller.principal is not None  # the route table admits no one else
    return caller.principal
