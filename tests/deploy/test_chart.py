"""The Helm chart, rendered by Helm and checked as a cluster with strict validation would."""

import copy
from typing import Any

import helm_python
import pytest
import yaml

from tests.deploy.manifests import (
    CHART,
    DIGEST,
    GATEWAY,
    PUBLIC_URL,
    Invalid,
    Manifest,
    by_kind,
    containers,
    render,
    validate,
)

SERVICES = ["ballot", "tally", "pledge", "notify", "audit", "gateway"]
SINGLE_WRITERS = {"ballot", "tally", "pledge"}
LOGS = ["ballot", "tally", "notify", "pledge"]
# Every service is on by default; said again here, the chart is checked whole.
ALL_SERVICES = {"services": {"pledge": {"enabled": True}, "gateway": {"enabled": True}}, **GATEWAY}
EVERYTHING_ON = {"keda": {"enabled": True}, "image": {"digest": DIGEST}, **ALL_SERVICES}
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
    [ALL_SERVICES, EVERYTHING_ON, EXTERNAL_INFRASTRUCTURE],
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
        "Ingress",
        "MongoDBCommunity",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "RabbitmqCluster",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "TriggerAuthentication",
    }
    assert "Secret" not in kinds, "credentials only through existing Secret references"
    assert sorted(containers(manifests)) == sorted(f"qunping-{name}" for name in SERVICES)
    assert len(by_kind(manifests, "PodDisruptionBudget")) == len(SERVICES)


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
        assert env["RABBITMQ_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
            "qunping-rabbitmq-default-user"
        )
        assert env["RABBITMQ_HOST"]["valueFrom"]["secretKeyRef"]["key"] == "host"
        assert env["AMQP_URI"] == {
            "name": "AMQP_URI",
            "value": "amqp://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@$(RABBITMQ_HOST):5672/",
        }
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


def test_only_the_gateway_accepts_connections_and_services_reach_only_dns_broker_and_database(
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
    ingress_policies = [spec for spec in policies.values() if spec.get("ingress")]
    assert [
        spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for spec in ingress_policies
    ] == ["gateway"]
    egress = policies["qunping-egress"]["egress"]
    assert [
        sorted((port["protocol"], port["port"]) for port in rule["ports"]) for rule in egress
    ] == [
        [("TCP", 53), ("UDP", 53)],
        [("TCP", 5672)],
        [("TCP", 27017)],
    ]


def test_keda_scales_only_horizontal_services_and_the_single_ones_refuse_a_second_replica() -> None:
    keda = {"keda": {"enabled": True, "services": ["notify"]}, **GATEWAY}
    scaled = by_kind(render(keda), "ScaledObject")
    assert [item["spec"]["scaleTargetRef"]["name"] for item in scaled] == ["qunping-notify"]
    assert scaled[0]["spec"]["triggers"][0]["metadata"]["queueName"] == "rpc-notify"

    for refused, reason in (
        ({"keda": {"enabled": True, "services": ["ballot"]}}, "ballot is single-writer"),
        ({"keda": {"enabled": True, "services": ["audit"]}}, "audit is singleton"),
        ({"services": {"pledge": {"enabled": True, "replicas": 2}}}, "owns an event log"),
        ({"services": {"audit": {"enabled": True, "replicas": 2}}}, "one scratch database"),
    ):
        with pytest.raises(helm_python.HelmError, match=reason):
            render({**refused, **GATEWAY})
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
    rendered = render(GATEWAY)
    assert "qunping-gateway" in containers(rendered)
    assert [m["metadata"]["name"] for m in by_kind(rendered, "Ingress")] == ["qunping-gateway"]


def test_the_gateway_needs_its_https_public_url_and_believes_one_proxy_hop() -> None:
    for values, reason in (
        ({}, "gateway.publicUrl is required"),
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
