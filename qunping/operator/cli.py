"""`qunping`: the one command an operator runs by hand.

qunping infra up|down|status      local RabbitMQ and MongoDB
qunping run                       every service, each in its own process
qunping service NAME              one service in this process (container entrypoint)
qunping contract generate         docs/events/*.json and docs/asyncapi.yaml
qunping notify ...                webhook dead letters and attempts (over RPC)
qunping pledge export ...         the year-end assessment of a district's pledges (over RPC)
qunping audit ...                 verify, replay, export, notice (straight from MongoDB)
qunping gateway create-account    an account of the web gateway (straight to its database)
"""

# nameko runs on eventlet: patch the standard library before anything opens a socket.
# Its deprecation notice is known (see pyproject.toml for why it is pinned) and noise here.
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import click  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from qunping.core import deployment, registry  # noqa: E402
from qunping.core.config import DEFAULTS, Settings, settings_from  # noqa: E402
from qunping.core.errors import InvalidInput, NotFound, Refused  # noqa: E402
from qunping.operator import broker_access, infra, launcher, sample  # noqa: E402

if TYPE_CHECKING:
    from services.audit.sources import Sources
    from services.gateway.auth import Accounts


@click.group()
def cli() -> None:
    """qunping (群评): community mass evaluations, run by the district."""


@cli.group("infra")
def infra_group() -> None:
    """Local infrastructure: RabbitMQ and a MongoDB wire server."""


@infra_group.command("up")
@click.option("--only", type=click.Choice(["rabbitmq", "mongodb"]), help="Bring up just one.")
def infra_up(only: str | None) -> None:
    """Bring up what is missing; what already runs is used as it is."""
    try:
        components = infra.up(os.environ, only)
    except infra.InfraError as error:
        raise click.ClickException(str(error)) from None
    _print_components(components)


@infra_group.command("down")
def infra_down() -> None:
    """Stop what `infra up` started (never a broker it found running), and a `qunping run`
    of this QUNPING_HOME with its services, or the services a run left behind."""
    previous = launcher.previous_run(infra.home(os.environ))
    if previous is None:
        click.echo("services: none running from this QUNPING_HOME")
    else:
        launcher.stop_previous(previous, lambda line: click.echo(f"services: {line}"))
    for line in infra.down(os.environ):
        click.echo(line)


@infra_group.command("status")
def infra_status() -> None:
    """What runs where; exit status 1 if anything is down."""
    components = infra.status(os.environ)
    _print_components(components)
    home = infra.home(os.environ)
    previous = launcher.previous_run(home)
    click.echo(f"services  {previous.describe() if previous else f'none running from {home}'}")
    if not all(component.running for component in components):
        sys.exit(1)
    click.echo(f"deployment {_deployment_status()}")


def _print_components(components: list[infra.Component]) -> None:
    for component in components:
        state = "up  " if component.running else "DOWN"
        owner = "started by qunping" if component.managed_by_qunping else "external"
        click.echo(f"{component.name:<9} {state} {component.uri}  ({owner}; {component.detail})")


def _deployment_status() -> str:
    """Which deployment this QUNPING_HOME's MongoDB holds, and whom its vhost serves."""
    from kombu.connection import Connection

    settings = _operator_settings()
    ours = deployment.stored_identity(settings.mongo_uri, settings.db_prefix)
    with Connection(settings.amqp_uri) as connection:
        state = deployment.vhost_state(connection)
    vhost = deployment.vhost_of(settings.amqp_uri)
    mine = (
        f"{ours.id} (databases {ours.databases})"
        if ours
        else f"none yet (no service has started on databases {settings.db_prefix}*)"
    )
    if state.serves is None:
        return f"{mine}; {vhost} serves no deployment now"
    if ours is not None and state.serves == ours.id:
        return f"{mine}; {vhost} serves it ({state.processes} service processes)"
    return (
        f"{mine}; {vhost} serves ANOTHER deployment, {state.serves or '(unknown id)'} "
        f"({state.processes} service processes): services of this one refuse to start there. "
        "Stop that one, or set AMQP_URI to a vhost of this one's own."
    )


def _say(line: str) -> None:
    """Print to the terminal, which may be gone (SIGHUP): then say nothing, and go on."""
    with contextlib.suppress(OSError):
        click.echo(line)


@cli.command("run")
@click.option("--no-sample", is_flag=True, help="Do not load the sample district.")
def run(no_sample: bool) -> None:
    """Run every service locally until Ctrl-C (or SIGTERM, SIGHUP); logs go to .qunping/logs/.

    The first run loads the sample district (吉州区, first pilot batch) through the services
    and prints its results once the tally has counted them all. A service that dies is
    started again after a growing delay.
    """
    environment = {**os.environ, **infra.effective_environment(os.environ)}
    home = infra.home(os.environ)
    try:
        settings_from(environment)  # a bad value is named before anything starts
        local = launcher.Launcher(environment, home, say=_say)
        _clear_the_way(local, home, environment)
    except launcher.CannotRun as error:
        raise click.ClickException(str(error)) from None
    except InvalidInput as error:
        raise click.ClickException(f"bad configuration: {error.messages}") from None
    click.echo(f"Starting {', '.join(registry.names())}; logs in {local.log_dir}/")

    def started() -> None:
        try:
            _print_gateway_login(environment)
            if no_sample:
                return
            settings = settings_from(environment)
            with ClusterRpcProxy(settings.nameko_config(), timeout=120) as cluster:
                launcher.wait_until_answering(cluster, seconds=180)
                sample.first_run(cluster, home / "sample-campaign", _say)
        except Exception as error:  # the services run on; say what went wrong
            _say(f"The sample district could not be shown: {type(error).__name__}: {error}")
        finally:
            _say("Running; Ctrl-C stops every service.")

    sys.exit(local.run(on_started=started))


def _clear_the_way(local: launcher.Launcher, home: Path, environment: dict[str, str]) -> None:
    """Refuse to run beside a running launcher, over taken ports or on a vhost serving
    another deployment; stop services a previous run left behind."""
    from kombu.connection import Connection

    previous = launcher.previous_run(home)
    if previous is not None and previous.launcher is not None:
        raise launcher.CannotRun(
            f"already running from {home}: {previous.describe()}. "
            "Or use another QUNPING_HOME (with its own QUNPING_MONGO_PORT and QUNPING_HTTP_PORT)."
        )
    if previous is not None:
        launcher.stop_previous(previous, _say)
    taken = launcher.ports_taken(local.slots)
    if taken:
        first, count = local.slots[0].port, len(local.slots)
        raise launcher.CannotRun(
            "something else listens on "
            + ", ".join(f"port {slot.port} ({slot.name})" for slot in taken)
            + f". The services use {count} ports from QUNPING_HTTP_PORT={first}: "
            f"stop what holds them, or set QUNPING_HTTP_PORT to the first of {count} free ports."
        )
    settings = settings_from(environment)
    for what, problem in (
        ("RabbitMQ", infra.amqp_reachable(settings.amqp_uri)),
        ("MongoDB", infra.mongo_reachable(settings.mongo_uri)),
    ):
        if problem:
            raise launcher.CannotRun(f"{what} does not answer ({problem}); `qunping infra up` "
                                     "brings up the local one")  # fmt: skip
    ours = deployment.deployment_identity(settings.mongo_uri, settings.db_prefix)
    with Connection(settings.amqp_uri) as connection:
        state = deployment.vhost_state(connection)
    if state.serves not in (None, ours.id):
        raise launcher.CannotRun(
            str(deployment.VhostTaken(settings.amqp_uri, ours, state.serves, state.processes))
        )


def _print_gateway_login(environment: dict[str, str]) -> None:
    from services.gateway.local_admin import (
        LOCAL_ADMIN,
        SAMPLE_DISTRICT,
        SAMPLE_DISTRICT_ADMIN,
        ensure_local_admin,
        ensure_sample_district,
    )

    environ = {**os.environ, **environment}
    accounts = _gateway_accounts(environ)
    password_file = ensure_local_admin(accounts, infra.home(environ))
    district_file = ensure_sample_district(accounts, infra.home(environ))
    port = int(environ.get("QUNPING_HTTP_PORT", "8000")) + registry.names().index("gateway")
    _say(f"Web gateway: http://127.0.0.1:{port}/  (the platform: log in as {LOCAL_ADMIN}, "
         f"password in {password_file}; {SAMPLE_DISTRICT}: as {SAMPLE_DISTRICT_ADMIN}, "
         f"password in {district_file})")  # fmt: skip


@cli.command("show")
@click.argument("what", type=click.Choice(["summary", "grades"]))
@click.argument("campaign_id")
def show(what: str, campaign_id: str) -> None:
    """A campaign's district summary or 双评 grades, from the running tally, as JSON."""
    settings = _operator_settings()
    with ClusterRpcProxy(settings.nameko_config(), timeout=30) as cluster:
        answer = getattr(cluster.tally, what)({"campaign_id": campaign_id})
    click.echo(json.dumps(answer, ensure_ascii=False, indent=2))


@cli.command("service")
@click.argument("name", type=click.Choice(sorted(registry.names())))
def service(name: str) -> None:
    """Run one service in this process until SIGTERM (the container entrypoint)."""
    try:
        settings = settings_from(_as_role(os.environ, name))
    except InvalidInput as error:
        raise click.ClickException(f"bad configuration: {error.messages}") from None
    try:
        launcher.run_service(name, settings)
    except deployment.VhostTaken as taken:
        click.echo(f"{name} refuses to start: {taken}", err=True)
        sys.exit(launcher.REFUSES_TO_START)


@cli.group("contract")
def contract_group() -> None:
    """The public event contract for outside systems."""


@contract_group.command("generate")
@click.option(
    "--docs",
    "docs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs"),
    show_default=True,
    help="Where docs/events/ and asyncapi.yaml go.",
)
def contract_generate(docs_dir: Path) -> None:
    """Write the JSON Schema of every public event and the AsyncAPI document."""
    from qunping.operator import contract

    for path in contract.write_documents(docs_dir):
        click.echo(f"wrote {path}")


@cli.group("keys")
def keys_group() -> None:
    """The Ed25519 key the logs' checkpoints are signed with (never stored in MongoDB)."""


KEY_OPTION = click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The key file (default: QUNPING_SIGNING_KEY_FILE, else $QUNPING_HOME/signing-key.pem).",
)


def _key_file(key_file: Path | None) -> Path:
    return key_file or Path(_operator_settings().signing_key_file)


@keys_group.command("show")
@KEY_OPTION
def keys_show(key_file: Path | None) -> None:
    """The key's id and public half (created, mode 0600, if there is none yet)."""
    from qunping.core.checkpoints import load_or_create_key

    key = load_or_create_key(_key_file(key_file))
    click.echo(f"key {key.key_id} public {key.public_key.hex()}")


@keys_group.command("rotate")
@KEY_OPTION
def keys_rotate(key_file: Path | None) -> None:
    """Replace the key by a new one the old one endorses; restart the services after."""
    from qunping.core.checkpoints import endorsement_path, rotate_key

    path = _key_file(key_file)
    old, new = rotate_key(path)
    click.echo(f"key {new.key_id} replaces {old.key_id} (endorsement in {endorsement_path(path)})")
    click.echo(f"destroy {path.name}.retired-{old.key_id} once every service runs with the new key")


@keys_group.command("sign")
@click.argument("log", type=click.Choice(registry.logs()))
def keys_sign(log: str) -> None:
    """Ask the running LOG owner to sign its head now; print the checkpoint as JSON."""
    click.echo(json.dumps(_call(log, "sign_checkpoint", {})["checkpoint"], ensure_ascii=False))


@cli.group("notify")
def notify_group() -> None:
    """Webhook deliveries of the running notify service (AMQP_URI says where)."""


def _call_notify(method: str, payload: dict[str, Any]) -> Any:
    return _call("notify", method, payload)


def _as_role(environ: Mapping[str, str], role: str) -> dict[str, str]:
    """The environment with `AMQP_URI` naming `role`'s own broker user, when
    `QUNPING_BROKER_USERS` names a file of them (`infra up` writes one)."""
    uri = environ.get("AMQP_URI", DEFAULTS["AMQP_URI"])
    return {**environ, "AMQP_URI": broker_access.as_role(uri, role, environ)}


def _operator_settings() -> Settings:
    """What an operator's command talks to: the environment, else what `infra up` runs
    locally (so `QUNPING_MONGO_PORT` and `QUNPING_HOME` mean the same as for `run`)."""
    environ = {**os.environ, **infra.effective_environment(os.environ)}
    try:
        return settings_from(_as_role(environ, broker_access.OPERATOR))
    except InvalidInput as error:
        raise click.ClickException(f"bad configuration: {error.messages}") from None


def _call(service_name: str, method: str, payload: dict[str, Any]) -> Any:
    from nameko.standalone.rpc import ClusterRpcProxy

    settings = _operator_settings()
    with ClusterRpcProxy(settings.nameko_config()) as cluster:
        try:
            return getattr(cluster[service_name], method)(payload)
        except Exception as error:  # the service's own error, carried over RPC
            raise click.ClickException(str(error)) from None


def _given(**options: str | None) -> dict[str, str]:
    """The options given, as a query's fields."""
    return {key: value for key, value in options.items() if value is not None}


DISTRICT_OPTION = click.option("--district", help="Only this district's (default: every one).")


@notify_group.command("dead-letters")
@DISTRICT_OPTION
@click.option("--subscription", help="Only this subscription's.")
def notify_dead_letters(district: str | None, subscription: str | None) -> None:
    """Deliveries that used up their attempts, newest first, as JSON lines."""
    payload = _given(district=district, subscription_id=subscription)
    for delivery in _call_notify("dead_letters", payload):
        click.echo(json.dumps(delivery, ensure_ascii=False))


@notify_group.command("redeliver")
@click.argument("delivery_id")
@click.option("--district", required=True, help="The dead letter's district (as listed).")
def notify_redeliver(delivery_id: str, district: str) -> None:
    """Put a dead letter back in its subscription's queue (ordered by arrival)."""
    _call_notify("redeliver", {"delivery_id": delivery_id, "district": district})
    click.echo(f"delivery {delivery_id} is queued again")


@notify_group.command("attempts")
@DISTRICT_OPTION
@click.option("--subscription", help="Only this subscription's.")
@click.option("--delivery", help="Only this delivery's.")
def notify_attempts(district: str | None, subscription: str | None, delivery: str | None) -> None:
    """Every delivery attempt, oldest first, as JSON lines."""
    payload = _given(district=district, subscription_id=subscription, delivery_id=delivery)
    for attempt in _call_notify("webhook_attempts", payload):
        click.echo(json.dumps(attempt, ensure_ascii=False))


@cli.group("pledge")
def pledge_group() -> None:
    """The running pledge service (AMQP_URI says where)."""


@pledge_group.command("export")
@click.option("--district", required=True)
@click.option("--year", required=True, type=int)
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]), default="xlsx")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def pledge_export(district: str, year: int, file_format: str, out: Path) -> None:
    """The year-end assessment (年终考核) of a district's pledges, as a file."""
    import base64

    exported = _call(
        "pledge", "export", {"district": district, "year": year, "format": file_format}
    )
    out.write_bytes(base64.b64decode(exported["content_base64"]))
    click.echo(f"wrote {out}: {exported['rows']} pledges")


@cli.group("audit")
def audit_group() -> None:
    """For auditors (纪委): reads the service databases at MONGO_URI, never writes them."""


def _audit_sources() -> "Sources":
    from pymongo import MongoClient

    from services.audit.sources import Sources

    settings = _operator_settings()
    return Sources(MongoClient(settings.mongo_uri, tz_aware=True), settings.db_prefix)


@audit_group.command("verify")
@click.option(
    "--checkpoints",
    "checkpoints_file",
    type=click.File(encoding="utf-8"),
    help="Signed checkpoints an outside party kept (JSON Lines: the CloudEvents it received).",
)
def audit_verify(checkpoints_file: Any) -> None:
    """Every log's hash chain and positions, against every signed checkpoint; exit status 1
    at the first broken link, forged signature or disagreement with a checkpoint."""
    from services.audit.verify import Kept, verify_all

    try:
        kept = Kept.read(checkpoints_file) if checkpoints_file is not None else None
    except (ValueError, KeyError, TypeError) as error:
        raise click.BadParameter(
            f"not signed checkpoints: {error}", param_hint="--checkpoints"
        ) from None
    reports = verify_all(_audit_sources(), kept)
    for report in reports:
        state = "ok" if report.ok else f"BROKEN at {report.broken}"
        click.echo(
            f"{report.log:<8} {report.checked:>9} events  head {report.head.position}  {state}"
        )
        if report.unsigned is not None:
            first, last = report.unsigned
            click.echo(
                f"{'':<8} positions {first}..{last} are covered by no valid signed checkpoint"
            )
    if not all(report.ok for report in reports):
        sys.exit(1)


@audit_group.command("replay")
@click.option("--as-of", "as_of", help="A ballot-log POSITION, or a TIME (ISO 8601, with zone).")
@click.option("--campaign", help="Compare only this campaign's documents and events.")
@click.option("--meeting", help="Compare only this meeting's documents and events.")
def audit_replay(as_of: str | None, campaign: str | None, meeting: str | None) -> None:
    """Rebuild the tally from position 0 in a scratch database; print every difference."""
    from datetime import datetime

    from services.audit.replay import Scope, position_at, replay

    sources = _audit_sources()
    position: int | None = None
    if as_of is not None:
        if as_of.isdigit():
            position = int(as_of)
        else:
            try:
                moment = datetime.fromisoformat(as_of)
            except ValueError:
                raise click.BadParameter(
                    "a position or an ISO 8601 time", param_hint="--as-of"
                ) from None
            if moment.tzinfo is None:
                raise click.BadParameter("give the time zone, e.g. +08:00", param_hint="--as-of")
            position = position_at(sources, moment)
    report = replay(sources, as_of=position, scope=Scope(campaign=campaign, meeting=meeting))
    for note in report.notes:
        click.echo(f"note: {note}")
    for difference in report.differences:
        click.echo(difference)
    verdict = "match" if report.ok else f"MISMATCH ({len(report.differences)} differences)"
    click.echo(
        f"replayed {report.replayed} ballot-log events to position {report.as_of}; "
        f"compared {report.compared}: {verdict}"
    )
    if not report.ok:
        sys.exit(1)


@audit_group.command("export")
@click.option("--meeting", help="One meeting's bundle.")
@click.option("--campaign", help="A whole campaign's bundle.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for bundle.jsonl and verify_bundle.py.",
)
def audit_export(meeting: str | None, campaign: str | None, out: Path) -> None:
    """A self-contained bundle and the standalone verifier (python3 verify_bundle.py)."""
    from services.audit.bundle import export
    from services.audit.replay import Scope

    if (meeting is None) == (campaign is None):
        raise click.UsageError("give exactly one of --meeting and --campaign")
    try:
        bundle, verifier = export(_audit_sources(), Scope(campaign=campaign, meeting=meeting), out)
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {bundle}\nwrote {verifier}\ncheck with: python3 {verifier} {bundle}")


@audit_group.command("notice")
@click.option("--meeting", required=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def audit_notice(meeting: str, out: Path) -> None:
    """The printable public notice (公示) of a meeting's results, as HTML."""
    from services.audit.notice import render_notice

    try:
        out.write_text(render_notice(_audit_sources(), meeting), encoding="utf-8")
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {out}")


def main() -> None:
    # py-amqp warns of every frame it drops on a closing channel: noise for an operator.
    logging.getLogger("amqp").setLevel(logging.ERROR)
    cli()


@cli.group("gateway")
def gateway_group() -> None:
    """The web gateway's accounts (its database at MONGO_URI)."""


def _gateway_accounts(environ: dict[str, str]) -> "Accounts":
    from qunping.core.dependencies import service_database
    from services.gateway.auth import Accounts
    from services.gateway.settings import gateway_settings

    try:
        settings = settings_from(environ)
    except InvalidInput as error:
        raise click.ClickException(f"bad configuration: {error.messages}") from None
    _, database = service_database(settings.nameko_config(), "gateway")
    gateway = gateway_settings({}, environ)
    return Accounts(
        database, gateway.session_minutes, gateway.lockout_failures, gateway.lockout_minutes
    )


@gateway_group.command("create-district")
@click.argument("district")
def gateway_create_district(district: str) -> None:
    """A district (a tenant): then its first admin, with create-account --district."""
    from services.gateway.auth import COMMAND_LINE

    try:
        _gateway_accounts(dict(os.environ)).create_district(district, COMMAND_LINE)
    except Refused as error:
        raise click.ClickException(error.reason) from None
    click.echo(f"created district {district}")


@gateway_group.command("create-account")
@click.option(
    "--role",
    required=True,
    help="platform_admin, district_admin, organiser, scrutineer, assessor or auditor.",
)
@click.option("--username", required=True)
@click.option("--district", help="The account's district (a platform admin has none).")
@click.option("--community", help="An organiser's community (the other roles have none).")
@click.option("--password", help="Asked for (not echoed) when not given.")
def gateway_create_account(
    role: str, username: str, district: str | None, community: str | None, password: str | None
) -> None:
    """An account of the web gateway, checked as the API checks one."""
    from services.gateway.local_admin import create_account

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    request = {
        "username": username,
        "password": password,
        "role": role,
        "district": district,
        "community": community,
    }
    try:
        create_account(_gateway_accounts(dict(os.environ)), request)
    except InvalidInput as error:
        raise click.ClickException(json.dumps(error.messages, ensure_ascii=False)) from None
    except Refused as error:
        raise click.ClickException(error.reason) from None
    where = ", ".join(place for place in (community, district) if place)
    click.echo(f"created {role} {username}" + (f" of {where}" if where else ""))
