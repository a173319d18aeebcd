"""Who may do what on qunping's RabbitMQ vhost: one user per service, least privilege.

Beneath the gateway, any holder of the broker's administrator could call every nameko RPC
(`ballot.issue_tokens`) or bind a queue of its own to `nameko-rpc` with `ballot.*` and read
every ballot as it is cast. So each service runs as a user of its own, and this table is the
one place that says what each may do; `qunping infra up` and the tests load it into the
local broker (`definitions`), and the Helm chart renders the RabbitMQ operator's User,
Permission and TopicPermission resources from the same rules (a chart test compares them).

How nameko and qunping use the broker, which the rules follow:
- RPC: a caller publishes to the topic exchange `nameko-rpc` with routing key
  `<service>.<method>` and reads its own reply queue `rpc.reply-<caller>-<uuid>`, bound with
  the uuid as key (nameko's standalone proxy, used by tally, pledge and the CLI, calls
  itself `standalone_rpc_proxy`); the service consumes `rpc-<service>`, bound `<service>.*`,
  and answers to `nameko-rpc` with the caller's uuid as routing key.
- Events: a service with a log publishes it to `<log>.events` (key: event type) and its
  public events to `qunping.public` (key `<log>.<EventType>`); nameko event handlers consume
  `evt-<source>-<event>--<service>.<method>`, bound to `<source>.events`.
- Every service process consumes from `qunping.deployment` (the deployment's identity).

RabbitMQ checks `configure` on declaring and deleting, `write` on publishing to an exchange
and on binding a queue, `read` on consuming a queue and on binding to an exchange; topic
permissions then check the routing key of every publish (`write`) and the binding key of
every bind (`read`) on a topic exchange. A user with no topic permission on an exchange is
not restricted there, so every user gets one on each of qunping's topic exchanges.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

from qunping.core import registry
from qunping.core.amqp import PUBLIC_EXCHANGE_NAME
from qunping.core.deployment import ANNOUNCEMENT_QUEUE, IDENTITY_EXCHANGE_PREFIX

RPC_EXCHANGE = "nameko-rpc"
PUBLIC_EXCHANGE = PUBLIC_EXCHANGE_NAME
STANDALONE_CALLER = "standalone_rpc_proxy"
REPLY_KEY = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NOTHING = "^$"
OPERATOR = "operator"


def _any_of(patterns: Iterable[str]) -> str:
    alternatives = sorted(set(patterns))
    return f"^({'|'.join(alternatives)})$" if alternatives else NOTHING


def _literal(name: str) -> str:
    return re.escape(name)


@dataclass(frozen=True)
class Handler:
    """A nameko event handler: `method` consumes `event` (a binding key) of `source`."""

    source: str
    event: str
    method: str


@dataclass(frozen=True)
class Role:
    """What one user does on the vhost."""

    name: str
    serves_rpc: bool = False
    calls: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Service -> methods it may call; ("*",) for every method."""
    in_service_caller: bool = False
    """Calls through nameko's `RpcProxy` inside a service (reply queue named after it),
    rather than the standalone proxy."""
    publishes_log: bool = False
    handlers: tuple[Handler, ...] = ()
    public_queues: tuple[str, ...] = ()
    """Queues of its own bound to `qunping.public` (with any key)."""
    runs_service: bool = True
    """A service process (not the operator's CLI)."""


def _service_role(
    name: str,
    *,
    calls: Mapping[str, tuple[str, ...]] | None = None,
    in_service_caller: bool = False,
    handlers: tuple[Handler, ...] = (),
    public_queues: tuple[str, ...] = (),
) -> Role:
    """A service's role: whether it serves RPC and publishes a log is the registry's to say."""
    service = registry.service(name)
    return Role(
        name,
        serves_rpc=service.serves_rpc,
        calls=calls or {},
        in_service_caller=in_service_caller,
        publishes_log=service.owns_log,
        handlers=handlers,
        public_queues=public_queues,
    )


EVERY_METHOD_OF_EVERY_SERVICE = {service: ("*",) for service in registry.rpc_servers()}

ROLES: tuple[Role, ...] = (
    _service_role("ballot"),
    _service_role(
        "tally",
        calls={"ballot": ("read_log", "meeting_ballots")},
        handlers=(Handler("ballot", "#", "on_ballot_event"),),
    ),
    _service_role(
        "pledge",
        calls={"ballot": ("create_campaign", "schedule_meeting"), "tally": ("results",)},
        handlers=(Handler("tally", "ResultsPublished", "on_results_published"),),
    ),
    _service_role("notify", public_queues=("notify.public",)),
    _service_role(
        "audit",
        in_service_caller=True,
        calls={"notify": ("report_tampering",)},
        handlers=(Handler("ballot", "VotingClosed", "verify_at_close"),),
    ),
    _service_role("gateway", in_service_caller=True, calls=EVERY_METHOD_OF_EVERY_SERVICE),
    Role(OPERATOR, calls=EVERY_METHOD_OF_EVERY_SERVICE, runs_service=False),
)
ROLE_BY_NAME = {role.name: role for role in ROLES}


@dataclass(frozen=True)
class TopicAccess:
    write: str
    read: str


@dataclass(frozen=True)
class Access:
    """A user's permissions on the vhost, as RabbitMQ takes them."""

    configure: str
    write: str
    read: str
    topics: dict[str, TopicAccess]
    """One entry for every topic exchange of qunping's."""


SUBSCRIBER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def topic_exchanges() -> tuple[str, ...]:
    """`nameko-rpc`, `qunping.public` and each log's `<log>.events`."""
    return (RPC_EXCHANGE, PUBLIC_EXCHANGE, *(f"{log}.events" for log in registry.logs()))


def _reply_queue(role: Role) -> str:
    caller = role.name if role.in_service_caller else STANDALONE_CALLER
    return rf"rpc\.reply-{_literal(caller)}-{REPLY_KEY}"


def _handler_queue(role: Role, handler: Handler) -> str:
    return _literal(f"evt-{handler.source}-{handler.event}--{role.name}.{handler.method}")


def access_of(role: Role) -> Access:
    """The permissions `role` needs, and no more."""
    configure: list[str] = []
    write: list[str] = []
    read: list[str] = []
    rpc_write: list[str] = []
    rpc_read: list[str] = []
    topics: dict[str, TopicAccess] = {}
    # Every service announces the deployment; the operator's CLI asks whom it serves.
    configure.append(_literal(ANNOUNCEMENT_QUEUE))
    read.append(_literal(ANNOUNCEMENT_QUEUE))
    write.append(rf"{_literal(IDENTITY_EXCHANGE_PREFIX)}.*")
    if role.serves_rpc:
        queue = _literal(f"rpc-{role.name}")
        configure += [queue, _literal(RPC_EXCHANGE)]
        write += [queue, _literal(RPC_EXCHANGE)]  # binds its queue; publishes replies
        read += [queue, _literal(RPC_EXCHANGE)]
        rpc_read.append(_literal(f"{role.name}.*"))
        rpc_write.append(REPLY_KEY)
    if role.calls:
        queue = _reply_queue(role)
        configure += [queue, _literal(RPC_EXCHANGE)]
        write += [queue, _literal(RPC_EXCHANGE)]
        read += [queue, _literal(RPC_EXCHANGE)]
        rpc_read.append(REPLY_KEY)
        for service, methods in role.calls.items():
            names = "[a-z_]+" if methods == ("*",) else f"({'|'.join(sorted(methods))})"
            rpc_write.append(rf"{_literal(service)}\.{names}")
    if role.publishes_log:
        own = f"{role.name}.events"
        configure += [_literal(own), _literal(PUBLIC_EXCHANGE)]
        write += [_literal(own), _literal(PUBLIC_EXCHANGE)]
        topics[own] = TopicAccess(write=".*", read=NOTHING)
    for handler in role.handlers:
        queue, source = _handler_queue(role, handler), f"{handler.source}.events"
        configure += [queue, _literal(source)]
        write.append(queue)
        read += [queue, _literal(source)]
        topics[source] = TopicAccess(write=NOTHING, read=f"^{re.escape(handler.event)}$")
    for queue_name in role.public_queues:
        queue = _literal(queue_name)
        configure += [queue, _literal(PUBLIC_EXCHANGE)]
        write.append(queue)
        read += [queue, _literal(PUBLIC_EXCHANGE)]
    public_write = rf"^{_literal(role.name)}\.[A-Za-z0-9]+$" if role.publishes_log else NOTHING
    public_read = ".*" if role.public_queues else NOTHING
    topics[PUBLIC_EXCHANGE] = TopicAccess(write=public_write, read=public_read)
    topics[RPC_EXCHANGE] = TopicAccess(write=_any_of(rpc_write), read=_any_of(rpc_read))
    for exchange in topic_exchanges():
        topics.setdefault(exchange, TopicAccess(write=NOTHING, read=NOTHING))
    return Access(_any_of(configure), _any_of(write), _any_of(read), topics)


def subscriber_access(name: str) -> Access:
    """An outside system's: its own queues (`sub-<name>.*`), bound to `qunping.public` and
    read from; nothing else on the vhost."""
    if not SUBSCRIBER_NAME.match(name):
        raise ValueError(f"a subscriber's name is {SUBSCRIBER_NAME.pattern}: {name!r}")
    queue = rf"sub-{name}\..+"  # the name has no character special in a pattern
    topics = {exchange: TopicAccess(NOTHING, NOTHING) for exchange in topic_exchanges()}
    topics[PUBLIC_EXCHANGE] = TopicAccess(write=NOTHING, read=".*")
    return Access(
        configure=_any_of([queue]),
        write=_any_of([queue]),
        read=_any_of([queue, _literal(PUBLIC_EXCHANGE)]),
        topics=topics,
    )


# -- the Helm chart's copy -----------------------------------------------------------------

CHART_TABLE = Path(__file__).resolve().parents[2] / "deploy/helm/qunping/files/broker-access.yaml"
SUBSCRIBER_PLACEHOLDER = "subscriber"


def chart_table() -> dict[str, Any]:
    """The table as the chart reads it (files/broker-access.yaml): a role's permissions,
    and a subscriber's with `subscriber` where its name goes."""

    def entry(access: Access) -> dict[str, Any]:
        return {
            "configure": access.configure,
            "write": access.write,
            "read": access.read,
            "topics": [
                {"exchange": exchange, "write": topic.write, "read": topic.read}
                for exchange, topic in sorted(access.topics.items())
            ],
        }

    return {
        "roles": {role.name: entry(access_of(role)) for role in ROLES},
        "subscriber": entry(subscriber_access(SUBSCRIBER_PLACEHOLDER)),
    }


def write_chart_table() -> None:
    """Write the chart's copy (`python -c 'import qunping.operator.broker_access as b;
    b.write_chart_table()'`); a chart test fails while it differs."""
    header = (
        "# Generated from qunping/operator/broker_access.py by write_chart_table(); do not edit.\n"
        "# Each role's RabbitMQ permissions; templates/rabbitmq-users.yaml renders them.\n"
        "# yamllint disable rule:line-length\n"
    )
    text = yaml.safe_dump(chart_table(), sort_keys=True, allow_unicode=True, width=1000)
    CHART_TABLE.parent.mkdir(parents=True, exist_ok=True)
    CHART_TABLE.write_text(header + text)


# -- the local broker: users in RabbitMQ's definitions format ---------------------------


def user_name(prefix: str, role: str) -> str:
    return f"{prefix}{role}"


def subscriber_user(prefix: str, name: str) -> str:
    return f"{prefix}sub-{name}"


def new_passwords() -> dict[str, str]:
    return {role.name: secrets.token_urlsafe(24) for role in ROLES}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def definitions(
    vhost: str,
    prefix: str,
    passwords: Mapping[str, str],
    subscribers: Mapping[str, str] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """What `rabbitmqctl import_definitions` takes: the vhost, a user for each role in
    `passwords` and each subscriber (name -> password), and their permissions; one call
    instead of dozens of slow `rabbitmqctl`s."""
    subscribers = subscribers or {}
    accesses = {user_name(prefix, role): access_of(ROLE_BY_NAME[role]) for role in passwords}
    accesses.update(
        {subscriber_user(prefix, name): subscriber_access(name) for name in subscribers}
    )
    all_passwords = {user_name(prefix, role): password for role, password in passwords.items()}
    all_passwords.update(
        {subscriber_user(prefix, name): password for name, password in subscribers.items()}
    )
    return {
        "vhosts": [{"name": vhost}],
        "users": [
            {
                "name": user,
                "password_hash": password_hash(all_passwords[user]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": "",
            }
            for user in accesses
        ],
        "permissions": [
            {
                "user": user,
                "vhost": vhost,
                "configure": access.configure,
                "write": access.write,
                "read": access.read,
            }
            for user, access in accesses.items()
        ],
        "topic_permissions": [
            {"user": user, "vhost": vhost, "exchange": exchange, "write": t.write, "read": t.read}
            for user, access in accesses.items()
            for exchange, t in access.topics.items()
        ],
    }


# -- a process's own credentials on one machine -----------------------------------------

USERS_FILE_VARIABLE = "QUNPING_BROKER_USERS"
"""Path of the broker users' passwords (JSON) on one machine: `infra up` writes one in
`QUNPING_HOME`, a test run its own. Each service then connects as its own user, whatever
user `AMQP_URI` names. In a cluster each pod's `AMQP_URI` names its own user instead."""


def write_users_file(path: Path, prefix: str, passwords: Mapping[str, str]) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps({"prefix": prefix, "passwords": dict(passwords)}, indent=1))


def as_role(amqp_uri: str, role: str, environ: Mapping[str, str]) -> str:
    """`amqp_uri` with the credentials of `role`'s user, if `QUNPING_BROKER_USERS` names
    a file of them; else (or for a role the file does not know) `amqp_uri` as it is."""
    path = environ.get(USERS_FILE_VARIABLE)
    if not path:
        return amqp_uri
    prefix, passwords = read_users_file(Path(path))
    if role not in passwords:
        return amqp_uri
    return with_credentials(amqp_uri, user_name(prefix, role), passwords[role])


def read_users_file(path: Path) -> tuple[str, dict[str, str]]:
    """The prefix of the users' names, and each role's password."""
    users = json.loads(path.read_text())
    return users["prefix"], users["passwords"]


def with_credentials(amqp_uri: str, user: str, password: str) -> str:
    parts = urlsplit(amqp_uri)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
