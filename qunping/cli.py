"""`qunping`: the one command an operator runs by hand.

qunping infra up|down|status      local RabbitMQ and MongoDB
qunping run                       every service, each in its own process
qunping service NAME              one service in this process (container entrypoint)
"""

# nameko runs on eventlet: patch the standard library before anything opens a socket.
# Its deprecation notice is known (see pyproject.toml for why it is pinned) and noise here.
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402

import click  # noqa: E402

from qunping import infra, launcher  # noqa: E402
from qunping.core.config import settings_from  # noqa: E402
from qunping.core.errors import InvalidInput  # noqa: E402


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
def run() -> None:
    """Run every service locally until Ctrl-C; logs go to .qunping/logs/."""
    environment = infra.effective_environment(os.environ)
    log_dir = infra.home(os.environ) / "logs"
    if not launcher.SERVICES:
        click.echo("No services exist yet: the infrastructure is up and nothing more runs.")
        return
    click.echo(f"Starting {', '.join(launcher.SERVICES)}; logs in {log_dir}/")
    sys.exit(launcher.run_all(environment, log_dir))


@cli.command("service")
@click.argument("name", type=click.Choice(sorted(launcher.SERVICES)))
def service(name: str) -> None:
    """Run one service in this process until SIGTERM (the container entrypoint)."""
    try:
        settings = settings_from(os.environ)
    except InvalidInput as error:
        raise click.ClickException(f"bad configuration: {error.messages}") from None
    launcher.run_service(name, settings)


def main() -> None:
    cli()
