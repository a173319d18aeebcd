"""`qunping gateway create-account` and the local admin `qunping run` creates, against the
real MongoDB wire server."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from pymongo import MongoClient

from qunping.operator.cli import cli
from services.gateway.auth import Accounts
from services.gateway.local_admin import (
    LOCAL_ADMIN,
    SAMPLE_DISTRICT,
    SAMPLE_DISTRICT_ADMIN,
    ensure_local_admin,
    ensure_sample_district,
)

PASSWORD = "correct horse battery"


def environment(mongo_uri: str, district: str | None = "吉州区") -> dict[str, str]:
    """A fresh gateway database, with `district` created by the command."""
    env = {"MONGO_URI": mongo_uri, "QUNPING_DB_PREFIX": f"t{uuid.uuid4().hex[:8]}_"}
    if district is not None:
        created = CliRunner().invoke(cli, ["gateway", "create-district", district], env=env)
        assert created.exit_code == 0, created.output
    return env


def accounts_of(client: MongoClient[dict[str, Any]], env: dict[str, str]) -> Accounts:
    return Accounts(client[f"{env['QUNPING_DB_PREFIX']}gateway"], 60)


def test_create_account_makes_an_organiser_who_can_log_in(
    mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    env = environment(mongo_uri)
    arguments = ["gateway", "create-account", "--role", "organiser", "--username", "wang",
                 "--district", "吉州区", "--community", "光明社区",
                 "--password", PASSWORD]  # fmt: skip
    result = CliRunner().invoke(cli, arguments, env=env)
    assert result.exit_code == 0, result.output
    login = accounts_of(mongo_client, env).login("wang", PASSWORD)
    assert login is not None
    principal = login.principal
    assert (principal.role, principal.district, principal.community) == (
        "organiser",
        "吉州区",
        "光明社区",
    )
    again = CliRunner().invoke(cli, arguments, env=env)
    assert again.exit_code == 1
    assert "exists" in again.output


def test_create_account_asks_for_the_password_when_none_is_given(
    mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    env = environment(mongo_uri)
    result = CliRunner().invoke(
        cli,
        [
            "gateway",
            "create-account",
            "--role",
            "auditor",
            "--username",
            "auditor-li",
            "--district",
            "吉州区",
        ],
        env=env,
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert accounts_of(mongo_client, env).login("auditor-li", PASSWORD) is not None


def test_create_account_refuses_bad_input_per_field_and_writes_nothing(
    mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    env = environment(mongo_uri)
    result = CliRunner().invoke(
        cli,
        [
            "gateway",
            "create-account",
            "--role",
            "mayor",
            "--username",
            "x y",
            "--password",
            "short",
        ],
        env=env,
    )
    assert result.exit_code == 1
    for field in ("role", "username", "password"):
        assert field in result.output
    organiser = CliRunner().invoke(
        cli,
        ["gateway", "create-account", "--role", "organiser", "--username", "zhao",
         "--password", PASSWORD],
        env=env,
    )  # fmt: skip
    assert organiser.exit_code == 1
    assert "community" in organiser.output
    assert accounts_of(mongo_client, env).every() == []


def test_the_local_admin_is_created_once_with_a_password_only_its_user_can_read(
    mongo_uri: str, mongo_client: MongoClient[dict[str, Any]], tmp_path: Path
) -> None:
    accounts = accounts_of(mongo_client, environment(mongo_uri))
    password_file = ensure_local_admin(accounts, tmp_path / "home")
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    login = accounts.login(LOCAL_ADMIN, password)
    assert login is not None and login.principal.role == "platform_admin"
    assert login.principal.district is None
    assert ensure_local_admin(accounts, tmp_path / "home") == password_file
    assert password_file.read_text().strip() == password
    assert [account["username"] for account in accounts.every()] == [LOCAL_ADMIN]


def test_the_sample_district_is_a_tenant_with_its_own_admin(
    mongo_uri: str, mongo_client: MongoClient[dict[str, Any]], tmp_path: Path
) -> None:
    accounts = accounts_of(mongo_client, environment(mongo_uri, district=None))
    password_file = ensure_sample_district(accounts, tmp_path / "home")

    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    login = accounts.login(SAMPLE_DISTRICT_ADMIN, password_file.read_text().strip())
    assert login is not None
    assert (login.principal.role, login.principal.district) == ("district_admin", SAMPLE_DISTRICT)
    assert accounts.district_names() == [SAMPLE_DISTRICT]
    assert ensure_sample_district(accounts, tmp_path / "home") == password_file


def test_an_account_of_a_district_no_one_created_is_refused(
    mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> None:
    env = environment(mongo_uri)
    result = CliRunner().invoke(
        cli,
        ["gateway", "create-account", "--role", "auditor", "--username", "auditor-li",
         "--district", "青原区", "--password", PASSWORD],
        env=env,
    )  # fmt: skip
    districtless = CliRunner().invoke(
        cli,
        ["gateway", "create-account", "--role", "auditor", "--username", "auditor-li",
         "--password", PASSWORD],
        env=env,
    )  # fmt: skip

    assert result.exit_code == 1 and "no district 青原区" in result.output
    assert districtless.exit_code == 1 and "district" in districtless.output
    assert accounts_of(mongo_client, env).every() == []
