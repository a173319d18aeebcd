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

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import click  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from qunping import infra, launcher, sample  # noqa: E402
from qunping.core.config import Settings, settings_from  # noqa: E402
from qunping.core.errors import InvalidInput, NotFound, Refused  # noqa: E402

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
    """Stop what `infra up` started (never a broker it found running)."""
    for line in infra.down(os.environ):
        click.echo(line)


@infra_group.command("status")
def infra_status() -> None:
    """What runs where; exit status 1 if anything is down."""
    components = infra.status(os.environ)
    _print_components(components)
    if not all(component.running for component in components):
        sys.exit(1)


def _print_components(components: list[infra.Component]) -> None:
    for component in components:
        state = "up  " if component.running else "DOWN"
        owner = "started by qunping" if component.managed_by_qunping else "external"
        click.echo(f"{component.name:<9} {state} {component.uri}  ({owner}; {component.detail})")


@cli.command("run")
@click.option("--no-sample", is_flag=True, help="Do not load the sample district.")
def run(no_sample: bool) -> None:
    """Run every service locally until Ctrl-C; logs go to .qunping/logs/.

    The first run loads the sample district (吉州区, first pilot batch) through the services
    and prints its results, so there is something real to look at at once.
    """
    environment = infra.effective_environment(os.environ)
    log_dir = infra.home(os.environ) / "logs"
    click.echo(f"Starting {', '.join(launcher.SERVICES)}; logs in {log_dir}/")
    marker = infra.home(os.environ) / "sample-campaign"

    def started() -> None:
        _print_gateway_login(environment)
        if no_sample:
            return
        settings = settings_from({**os.environ, **environment})
        campaign_id = marker.read_text().strip() if marker.exists() else None
        with ClusterRpcProxy(settings.nameko_config(), timeout=120) as cluster:
            launcher.wait_until_answering(cluster)
            if campaign_id is None:
                click.echo("Loading the sample district through the services (900 ballots)...")
                campaign_id = sample.load_sample(cluster.ballot, click.echo)["campaign_id"]
                marker.write_text(campaign_id)
            _print_summary(cluster, campaign_id)
        click.echo("Running; Ctrl-C stops every service.")

    sys.exit(launcher.run_all(environment, log_dir, on_started=started))


def _print_gateway_login(environment: dict[str, str]) -> None:
    from services.gateway.local_admin import LOCAL_ADMIN, ensure_local_admin

    environ = {**os.environ, **environment}
    password_file = ensure_local_admin(_gateway_accounts(environ), infra.home(environ))
    port = int(environ.get("QUNPING_HTTP_PORT", "8000")) + list(launcher.SERVICES).index("gateway")
    click.echo(f"Web gateway: http://127.0.0.1:{port}/  (log in as {LOCAL_ADMIN}, "
               f"password in {password_file})")  # fmt: skip


def _print_summary(cluster: Any, campaign_id: str) -> None:
    for _ in range(120):
        try:
            summary = cluster.tally.summary({"campaign_id": campaign_id})
            if summary["meetings"] and sum(summary["grades"].values()) == summary["meetings"]:
                break
        except NotFound:
            pass
        time.sleep(0.5)
    else:
        click.echo("The tally has not caught up yet; see .qunping/logs/tally.log")
        return
    title = f"{summary['district']} {summary['year']} {summary['batch']}"
    click.echo(f"\n{title}: {summary['meetings']} meetings")
    labels = {
        "committees": "满意率 社区两委班子",
        "secretaries": "满意率 党支部书记",
        "community_services": "满意率 社区服务",
        "graduate_excellence": "优秀率 选聘生",
    }
    for name, label in labels.items():
        pooled = summary["pooled"][name]
        mean = summary["mean_of_communities"][name]
        counts = f"{pooled['favourable']}/{pooled['valid']}"
        click.echo(
            f"  {label:<14} {pooled['percent']:>6}%  ({counts}; mean of communities {mean}%)"
        )
    click.echo(f"  grades: {summary['grades']}")
    click.echo(f"  campaign id {campaign_id}; query with: qunping show summary {campaign_id}\n")


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
@click.argument("name", type=click.Choice(sorted(launcher.SERVICES)))
def service(name: str) -> None:
    """Run one service in this process until SIGTERM (the container entrypoint)."""
    try:
        settings = settings_from(os.environ)
    except InvalidInput as error:
        raise click.ClickException(f"bad configuration: {error.messages}") from None
    launcher.run_service(name, settings)


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
    from qunping import contract

    for path in contract.write_documents(docs_dir):
        click.echo(f"wrote {path}")


@cli.group("notify")
def notify_group() -> None:
    """Webhook deliveries of the running notify service (AMQP_URI says where)."""


def _call_notify(method: str, payload: dict[str, Any]) -> Any:
    return _call("notify", method, payload)


def _operator_settings() -> Settings:
    """What an operator's command talks to: the environment, else what `infra up` runs
    locally (so `QUNPING_MONGO_PORT` and `QUNPING_HOME` mean the same as for `run`)."""
    try:
        return settings_from({**os.environ, **infra.effective_environment(os.environ)})
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


@notify_group.command("dead-letters")
@click.option("--subscription", help="Only this subscription's.")
def notify_dead_letters(subscription: str | None) -> None:
    """Deliveries that used up their attempts, newest first, as JSON lines."""
    payload = {} if subscription is None else {"subscription_id": subscription}
    for delivery in _call_notify("dead_letters", payload):
        click.echo(json.dumps(delivery, ensure_ascii=False))


@notify_group.command("redeliver")
@click.argument("delivery_id")
def notify_redeliver(delivery_id: str) -> None:
    """Put a dead letter back in its subscription's queue (ordered by arrival)."""
    _call_notify("redeliver", {"delivery_id": delivery_id})
    click.echo(f"delivery {delivery_id} is queued again")


@notify_group.command("attempts")
@click.option("--subscription", help="Only this subscription's.")
@click.option("--delivery", help="Only this delivery's.")
def notify_attempts(subscription: str | None, delivery: str | None) -> None:
    """Every delivery attempt, oldest first, as JSON lines."""
    payload = {
        key: value
        for key, value in (("subscription_id", subscription), ("delivery_id", delivery))
        if value is not None
    }
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
def audit_verify() -> None:
    """Every log's hash chain and positions; exit status 1 at the first broken link."""
    from services.audit.verify import verify_all

    reports = verify_all(_audit_sources())
    for report in reports:
        state = "ok" if report.ok else f"BROKEN at {report.broken}"
        click.echo(
            f"{report.log:<8} {report.checked:>9} events  head {report.head.position}  {state}"
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
    return Accounts(database, gateway_settings({}, environ).session_minutes)


@gateway_group.command("create-account")
@click.option("--role", required=True, help="district_admin, organiser, assessor or auditor.")
@click.option("--username", required=True)
@click.option("--community", help="An organiser's community (the other roles have none).")
@click.option("--password", help="Asked for (not echoed) when not given.")
def gateway_create_account(
    role: str, username: str, community: str | None, password: str | None
) -> None:
    """An account of the web gateway, checked as the API checks one."""
    from services.gateway.local_admin import create_account

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    request = {"username": username, "password": password, "role": role, "community": community}
    try:
        create_account(_gateway_accounts(dict(os.environ)), request)
    except InvalidInput as error:
        raise click.ClickException(json.dumps(error.messages, ensure_ascii=False)) from None
    except Refused as error:
        raise click.ClickException(error.reason) from None
    click.echo(f"created {role} {username}" + (f" of {community}" if community else ""))
