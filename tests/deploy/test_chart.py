"""The Helm chart, rendered by Helm and checked as a cluster with strict validation would."""

import copy
import re
from typing import Any

import helm_python
import pytest
import yaml

from qunping.core import registry
from qunping.operator import broker_access, database_access
from services.gateway.routes import ROUTES
from tests.deploy.manifests import (
    CHART,
    DIGEST,
    GATEWAY,
    KUBE_STATE_METRICS,
    MONITORING,
    PUBLIC_URL,
    REPOSITORY,
    Invalid,
    Manifest,
    alert_rules,
    by_kind,
    containers,
    metric_names,
    render,
    validate,
)

SERVICES = registry.names()
SINGLE_WRITERS = {s.name for s in registry.SERVICES if s.scaling == registry.Scaling.SINGLE_WRITER}
LOGS = registry.logs()
# Every service is on by default; said again here, the chart is checked whole.
ALL_SERVICES = {"services": {"pledge": {"enabled": True}, "gateway": {"enabled": True}}}
EVERYTHING_ON = {
    "keda": {"enabled": True},
    "image": {"digest": DIGEST},
    "metrics": MONITORING,
    **ALL_SERVICES,
}
EXTERNAL_INFRASTRUCTURE = {
    "rabbitmq": {"create": False, "external": {"secretName": "district-amqp"}},
    "mongodb": {"create": False, "external": {"secretName": "district-mongodb"}},
    "networkPolicy": {"externalEgress": {"cidrs": ["10.20.0.0/24"], "ports": [5671, 27017]}},
    "keda": {"enabled": True},
    **ALL_SERVICES,
}


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return render(EVERYTHING_ON)


@pytest.mark.parametrize(
    "values",
    [{}, EVERYTHING_ON, EXTERNAL_INFRASTRUCTURE],
    ids=["defaults", "keda-and-digest", "external-broker-and-database"],
)
def test_every_rendered_manifest_passes_strict_validation(values: dict[str, Any]) -> None:
    rendered = render(values)

    assert rendered
    for manifest in rendered:
        validate(manifest)


def test_the_chart_renders_what_the_issue_asks_for(manifests: list[Manifest]) -> None:
    kinds = {manifest["kind"] for manifest in manifests}

    assert kinds == {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "MongoDBCommunity",
        "NetworkPolicy",
        "Permission",
        "PodDisruptionBudget",
        "PrometheusRule",
        "RabbitmqCluster",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "TopicPermission",
        "TriggerAuthentication",
        "User",
    }
    assert "Secret" not in kinds, "credentials only through existing Secret references"
    assert sorted(containers(manifests)) == sorted(f"qunping-{name}" for name in SERVICES)
    assert len(by_kind(manifests, "PodDisruptionBudget")) == len(SERVICES)


def test_the_charts_services_are_the_registrys_with_its_scaling_logs_and_databases() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["services"]

    assert set(values) == set(registry.names())
    for service in registry.SERVICES:
        chart = values[service.name]
        assert chart["scaling"] == service.scaling, service.name
        assert chart.get("signs", False) == service.owns_log, service.name
        assert chart.get("database", service.name) == service.writes, service.name
        reads = list(registry.logs()) if service.reads_every_log else []
        assert chart.get("reads", []) == reads, service.name


def test_strict_validation_refuses_a_misspelt_field_and_an_unknown_kind(
    manifests: list[Manifest],
) -> None:
    deployment = copy.deepcopy(by_kind(manifests, "Deployment")[0])
    deployment["spec"]["replica"] = 2
    rabbitmq = copy.deepcopy(by_kind(manifests, "RabbitmqCluster")[0])
    rabbitmq["spec"]["rabbitmq"]["additionalConfg"] = "x = y"
    mongodb = copy.deepcopy(by_kind(manifests, "MongoDBCommunity")[0])
    mongodb["spec"]["member"] = 3
    scaled = copy.deepcopy(by_kind(manifests, "ScaledObject")[0])
    scaled["spec"]["triggers"][0]["authRef"] = {"name": "x"}
    unknown = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}

    for manifest in (deployment, rabbitmq, mongodb, scaled, unknown):
        with pytest.raises(Invalid):
            validate(manifest)


def test_every_container_is_hardened_probed_and_given_time_to_drain(
    manifests: list[Manifest],
) -> None:
    for deployment in by_kind(manifests, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        security = container["securityContext"]
        name = container["name"]
        longest = yaml.safe_load((CHART / "values.yaml").read_text())["services"][name][
            "longestHandlerSeconds"
        ]

        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["args"] == [name], "the image's entrypoint is `qunping service`"
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        assert set(container["resources"]) == {"requests", "limits"}
        assert pod["terminationGracePeriodSeconds"] > longest


def test_credentials_come_only_from_secret_references(manifests: list[Manifest]) -> None:
    for name, container in containers(manifests).items():
        env = {variable["name"]: variable for variable in container["env"]}

        assert env["MONGO_URI"]["valueFrom"]["secretKeyRef"] == {
            "name": f"qunping-mongodb-admin-{name}",
            "key": "connectionString.standard",
        }
        for variable in ("RABBITMQ_USERNAME", "RABBITMQ_PASSWORD"):
            assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == (
                f"{name}-user-credentials"
            ), "each service its own broker user, never the default administrator"
        assert env["AMQP_URI"] == {
            "name": "AMQP_URI",
            "value": "amqp://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@$(RABBITMQ_HOST):5672/",
        }
        assert env["RABBITMQ_HOST"]["value"] == "qunping-rabbitmq.qunping.svc"
    [mongodb] = by_kind(manifests, "MongoDBCommunity")
    identity = {"name": "qunping-deployment-identity", "db": "admin"}
    roles = {user["name"]: user["roles"] for user in mongodb["spec"]["users"]}
    audit = roles.pop("qunping-audit")
    assert roles == {
        f"qunping-{name}": [{"name": "readWrite", "db": f"qunping_{name}"}, identity]
        for name in SERVICES
        if name != "audit"
    }, "each service reads and writes its own database only"
    assert audit == [{"name": "readWrite", "db": "qunping_audit_scratch"}, identity] + [
        {"name": "read", "db": f"qunping_{log}"} for log in LOGS
    ], "the audit reads every log and writes only its scratch database"
    [role] = mongodb["spec"]["security"]["roles"]
    assert role["privileges"] == [
        {
            "resource": {"db": "qunping_deployment", "collection": "identity"},
            "actions": ["find", "insert", "createCollection"],
        }
    ], "the deployment's identity is read or first recorded, never changed"


def test_the_operators_run_three_node_rabbitmq_with_quorum_queues_and_a_three_member_replica_set(
    manifests: list[Manifest],
) -> None:
    [rabbitmq] = by_kind(manifests, "RabbitmqCluster")
    [mongodb] = by_kind(manifests, "MongoDBCommunity")

    assert rabbitmq["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in rabbitmq["spec"]["rabbitmq"]["additionalConfig"]
    assert mongodb["spec"]["members"] == 3
    assert mongodb["spec"]["type"] == "ReplicaSet"
    assert not by_kind(manifests, "StatefulSet"), "the operators own the stateful sets"


def test_only_the_gateway_and_the_scraper_connect_and_services_reach_only_dns_broker_database(
    manifests: list[Manifest],
) -> None:
    policies = {
        policy["metadata"]["name"]: policy["spec"]
        for policy in manifests
        if policy["kind"] == "NetworkPolicy"
    }
    everyone = {"app.kubernetes.io/name": "qunping", "app.kubernetes.io/instance": "qunping"}

    deny = policies["qunping-default-deny"]
    assert deny["podSelector"]["matchLabels"] == everyone
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny and "egress" not in deny
    ingress_policies = {
        name: spec
        for name, spec in policies.items()
        if spec.get("ingress")
        and spec["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == "qunping"
    }
    assert sorted(ingress_policies) == ["qunping-gateway-ingress", "qunping-metrics-scrape"]
    gateway = ingress_policies["qunping-gateway-ingress"]
    assert gateway["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    scrape = ingress_policies["qunping-metrics-scrape"]
    assert scrape["podSelector"]["matchLabels"] == everyone
    assert scrape["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    },
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ], "Prometheus' pods reach the HTTP port of every service, nothing else is opened"
    egress = policies["qunping-egress"]["egress"]
    assert [
        sorted((port["protocol"], port["port"]) for port in rule["ports"]) for rule in egress
    ] == [
        [("TCP", 53), ("UDP", 53)],
        [("TCP", 5672)],
        [("TCP", 27017)],
    ]


def test_keda_scales_notify_on_its_intake_queue_and_outbox_as_a_broker_user_of_its_own() -> None:
    rendered = render({"keda": {"enabled": True, "services": ["notify"]}})
    [scaled] = by_kind(rendered, "ScaledObject")
    [authentication] = by_kind(rendered, "TriggerAuthentication")
    queue, outbox = scaled["spec"]["triggers"]

    assert scaled["spec"]["scaleTargetRef"]["name"] == "qunping-notify"
    assert (queue["type"], queue["metadata"]["queueName"]) == ("rabbitmq", "notify.public")
    assert outbox["type"] == "prometheus"
    assert outbox["metadata"]["query"] == (
        'max(qunping_webhook_deliveries{status="pending",namespace="qunping"})'
        ' + max(qunping_emails{status="pending",namespace="qunping"})'
    )
    assert {ref["name"] for ref in authentication["spec"]["secretTargetRef"]} == {
        "qunping-keda-user-credentials"
    }, "never the broker's default (administrator) user"
    keda_users = [u for u in by_kind(rendered, "User") if u["metadata"]["name"] == "qunping-keda"]
    [permission] = [
        p for p in by_kind(rendered, "Permission") if p["metadata"]["name"] == "qunping-keda"
    ]
    assert len(keda_users) == 1, "the chart makes KEDA's user; the operator writes its Secret"
    assert permission["spec"]["permissions"] == {"configure": "^$", "write": "^$", "read": "^$"}
    assert not [t for t in by_kind(rendered, "TopicPermission") if "keda" in t["metadata"]["name"]]
    assert "qunping-keda" not in {u["metadata"]["name"] for u in by_kind(render({}), "User")}
    without_prometheus = render({"keda": {"enabled": True, "prometheusAddress": ""}})
    [scaled] = by_kind(without_prometheus, "ScaledObject")
    assert [trigger["type"] for trigger in scaled["spec"]["triggers"]] == ["rabbitmq"]
    with pytest.raises(helm_python.HelmError, match=r"gateway has no keda\.backlog"):
        render({"keda": {"enabled": True, "services": ["gateway"]}})


def test_the_gateway_scales_on_cpu_with_an_hpa_that_owns_its_replica_count() -> None:
    [hpa] = by_kind(render(), "HorizontalPodAutoscaler")
    deployments = {d["metadata"]["name"]: d["spec"] for d in by_kind(render(), "Deployment")}

    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "qunping-gateway",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert "replicas" not in deployments["qunping-gateway"]
    fixed = render({"gateway": {"autoscaling": {"enabled": False}}})
    assert not by_kind(fixed, "HorizontalPodAutoscaler")
    assert {d["metadata"]["name"]: d["spec"] for d in by_kind(fixed, "Deployment")}[
        "qunping-gateway"
    ]["replicas"] == 2


def test_the_single_services_refuse_keda_and_a_second_replica() -> None:
    for refused, reason in (
        ({"keda": {"enabled": True, "services": ["ballot"]}}, "ballot is single-writer"),
        ({"keda": {"enabled": True, "services": ["audit"]}}, "audit is singleton"),
        ({"services": {"pledge": {"enabled": True, "replicas": 2}}}, "owns an event log"),
        ({"services": {"audit": {"enabled": True, "replicas": 2}}}, "one scratch database"),
    ):
        with pytest.raises(helm_python.HelmError, match=reason):
            render(refused)
    rendered = by_kind(render(ALL_SERVICES), "Deployment")
    deployments = {d["metadata"]["name"]: d["spec"] for d in rendered}
    for name in SINGLE_WRITERS | {"audit"}:
        assert deployments[f"qunping-{name}"]["replicas"] == 1
        assert deployments[f"qunping-{name}"]["strategy"] == {"type": "Recreate"}


def test_every_object_carries_helms_recommended_labels_and_the_release_namespace(
    manifests: list[Manifest],
) -> None:
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]

        assert labels["app.kubernetes.io/name"] == "qunping"
        assert labels["app.kubernetes.io/instance"] == "qunping"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "qunping-0.1.0"
        assert "app.kubernetes.io/version" in labels
        assert manifest["metadata"]["namespace"] == "qunping"


def test_helm_lint_finds_no_warning_or_error() -> None:
    report = helm_python.lint(str(CHART), GATEWAY)
    # Helm's severities: 1 info, 2 warning, 3 error. The one info is "icon is recommended".
    serious = [message for message in report["messages"] if message["severity"] >= 2]

    assert report["errors"] == []
    assert serious == []


def test_the_default_values_run_the_gateway_with_its_service_and_ingress() -> None:
    rendered = render()
    assert "qunping-gateway" in containers(rendered)
    ingresses = {m["metadata"]["name"]: m for m in by_kind(rendered, "Ingress")}
    assert set(ingresses) == {"qunping-gateway", "qunping-gateway-voting"}


def test_casting_and_receipt_checks_pass_an_ingress_that_keeps_no_access_log() -> None:
    ingresses = {m["metadata"]["name"]: m for m in by_kind(render(), "Ingress")}
    voting, rest = ingresses["qunping-gateway-voting"], ingresses["qunping-gateway"]

    annotations = voting["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/enable-access-log"] == "false"
    assert "nginx.ingress.kubernetes.io/enable-access-log" not in rest["metadata"]["annotations"]
    [path] = voting["spec"]["rules"][0]["http"]["paths"]
    pattern = re.compile(path["path"])
    unlogged = {"/api/meetings/<meeting_id>/ballots", "/api/meetings/<meeting_id>/receipts"}
    for route in ROUTES:
        concrete = re.sub(r"<[a-z_]+>", "0123456789abcdef", route.path)
        assert (pattern.fullmatch(concrete) is not None) == (route.path in unlogged), route.path
    assert {r.rpc for r in ROUTES if r.path in unlogged} >= {"cast_ballot", "check_receipt"}


def test_the_broker_and_database_pods_accept_only_qunping_themselves_and_the_operators() -> None:
    rendered = render({"networkPolicy": {"amqpClients": ["10.30.0.0/24"]}})
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(rendered, "NetworkPolicy")}
    qunping = {"podSelector": {"matchLabels": QUNPING_PODS}}

    rabbitmq = policies["qunping-rabbitmq-ingress"]
    assert rabbitmq["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "qunping-rabbitmq"}
    }
    assert rabbitmq["ingress"] == [
        {
            "from": [qunping, {"ipBlock": {"cidr": "10.30.0.0/24"}}],
            "ports": [{"protocol": "TCP", "port": 5672}],
        },
        {"from": [{"podSelector": rabbitmq["podSelector"]}]},
        {
            "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "rabbitmq-system"}}}],
            "ports": [{"protocol": "TCP", "port": 15672}],
        },
    ]
    mongodb = policies["qunping-mongodb-ingress"]
    assert mongodb["podSelector"] == {"matchLabels": {"app": "qunping-mongodb-svc"}}
    assert mongodb["ingress"] == [
        {"from": [qunping], "ports": [{"protocol": "TCP", "port": 27017}]},
        {"from": [{"podSelector": mongodb["podSelector"]}]},
    ]
    [notify] = policies["qunping-notify-egress"]["egress"]
    [internet] = notify["to"]
    assert internet["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8"} <= set(internet["ipBlock"]["except"])


QUNPING_PODS = {"app.kubernetes.io/name": "qunping", "app.kubernetes.io/instance": "qunping"}
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def test_the_rendered_broker_permissions_are_the_tables_own() -> None:
    """The chart's users, permissions and topic permissions say what qunping.operator.broker_access
    says, for every role and for a subscriber: the two cannot drift apart."""
    rendered = render({**ALL_SERVICES, "rabbitmq": {"subscribers": ["district-archive"]}})
    users = {user["metadata"]["name"] for user in by_kind(rendered, "User")}
    expected = {role.name: broker_access.access_of(role) for role in broker_access.ROLES}
    expected["sub-district-archive"] = broker_access.subscriber_access("district-archive")
    assert users == {f"qunping-{name}" for name in expected}

    for permission in by_kind(rendered, "Permission"):
        user = permission["spec"]["userReference"]["name"]
        access = expected[user.removeprefix("qunping-")]
        assert permission["spec"]["vhost"] == "/"
        assert permission["spec"]["permissions"] == {
            "configure": access.configure,
            "write": access.write,
            "read": access.read,
        }
    topics: dict[str, dict[str, broker_access.TopicAccess]] = {}
    for topic in by_kind(rendered, "TopicPermission"):
        spec = topic["spec"]["permissions"]
        user = topic["spec"]["userReference"]["name"].removeprefix("qunping-")
        topics.setdefault(user, {})[spec["exchange"]] = broker_access.TopicAccess(
            spec["write"], spec["read"]
        )
    assert topics == {name: access.topics for name, access in expected.items()}
    assert broker_access.CHART_TABLE.read_text().split("\n", 3)[3] == yaml.safe_dump(
        broker_access.chart_table(), sort_keys=True, allow_unicode=True, width=1000
    ), "files/broker-access.yaml is stale: run write_chart_table()"


def test_the_rendered_database_users_are_the_tables_own(manifests: list[Manifest]) -> None:
    [mongodb] = by_kind(manifests, "MongoDBCommunity")
    rendered = {
        user["name"]: [{"role": r["name"], "db": r["db"]} for r in user["roles"]]
        for user in mongodb["spec"]["users"]
    }
    assert rendered == {
        f"{database_access.USER_PREFIX}{user.service}": database_access.roles_of(user, "qunping_")
        for user in database_access.USERS
    }
    [role] = mongodb["spec"]["security"]["roles"]
    expected = database_access.identity_role("qunping_")
    assert (role["role"], role["privileges"]) == (expected["role"], expected["privileges"])


def github_anchors(markdown: str) -> dict[str, str]:
    """Each heading's anchor as GitHub makes it, with the text of its section."""
    sections = re.split(r"^(#+ .+)$", markdown, flags=re.MULTILINE)
    return {
        re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower()).replace(" ", "-"): body
        for heading, body in zip(sections[1::2], sections[2::2], strict=True)
    }


def test_every_alert_links_its_runbook_which_says_what_it_means_what_to_check_and_do(
    manifests: list[Manifest],
) -> None:
    rules = alert_rules(manifests)
    runbooks = github_anchors((REPOSITORY / "docs" / "operations.md").read_text())
    base = "https://qunping.example.invalid/docs/operations.md#"

    assert [rule["alert"] for rule in rules] == [
        "QunpingRelayLagging",
        "QunpingProjectionLagging",
        "QunpingDeadLetters",
        "QunpingPodRestarting",
        "QunpingNotReady",
        "QunpingTamperDetected",
    ]
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url == base + rule["alert"].lower()
        runbook = runbooks[url.removeprefix(base)]
        for part in ("**What it means.**", "**What to check.**", "**What to do.**"):
            assert part in runbook, (rule["alert"], part)
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_the_alerts_read_qunpings_own_metrics_and_kube_state_metrics_only(
    manifests: list[Manifest],
) -> None:
    names = set().union(*(metric_names(rule["expr"]) for rule in alert_rules(manifests)))

    assert names == {
        "qunping_relay_lag_events",
        "qunping_projection_lag_events",
        "qunping_webhook_attempts_total",
        "qunping_email_attempts_total",
        "qunping_tamper_alerts_total",
        *KUBE_STATE_METRICS,
    }
    assert metric_names('sum by (log) (rate(a_total{x="y"}[5m])) > on(log) b or c') == {
        "a_total",
        "b",
        "c",
    }


def test_a_sites_own_rules_join_the_group_and_are_validated_with_it() -> None:
    extra = {"alert": "SiteBackupMissing", "expr": "site_backup_age_seconds > 86400"}
    values = {"metrics": {"prometheusRule": {"enabled": True, "extraRules": [extra]}}}
    [rule] = by_kind(render(values), "PrometheusRule")

    assert rule["spec"]["groups"][0]["rules"][-1] == extra
    validate(rule)
    misspelt = {
        "metrics": {"prometheusRule": {"enabled": True, "extraRules": [{**extra, "fro": "1m"}]}}
    }
    with pytest.raises(Invalid, match="fro"):
        validate(by_kind(render(misspelt), "PrometheusRule")[0])


def test_the_gateway_needs_its_https_public_url_and_believes_one_proxy_hop() -> None:
    for values, reason in (
        ({"gateway": {"publicUrl": ""}}, "gateway.publicUrl is required"),
        ({"gateway": {"publicUrl": "http://qunping.example.invalid"}}, "must be https://"),
    ):
        with pytest.raises(helm_python.HelmError, match=reason):
            render(values)
    [gateway] = [
        deployment
        for deployment in by_kind(render(GATEWAY), "Deployment")
        if deployment["metadata"]["name"] == "qunping-gateway"
    ]
    [container] = gateway["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}

    assert env["QUNPING_PUBLIC_URL"] == PUBLIC_URL
    assert env["QUNPING_TRUSTED_PROXY_HOPS"] == "1"
