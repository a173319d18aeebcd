"""Rendering the Helm chart offline, and validating manifests strictly.

The chart is rendered by Helm itself (v4's Go engine, through `helm-python-sdk`), not by a
reimplementation. Built-in kinds are validated by kubernetes-validate's strict schemas; the
operators' custom resources by their CRD schemas (tests/deploy/crd_schemas), made strict the
way Kubernetes' strict field validation treats a structural schema: a field the schema does
not declare is an error unless the schema preserves unknown fields there.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
CHART = REPOSITORY / "deploy" / "helm" / "qunping"
CRD_SCHEMAS = Path(__file__).resolve().parent / "crd_schemas"
KUBERNETES_VERSION = "1.30.0"
RELEASE = "qunping"
NAMESPACE = "qunping"
DIGEST = "sha256:" + "0" * 64
MONITORING = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}
"""`metrics` values switching on the Prometheus Operator's objects."""
PUBLIC_URL = "https://qunping.district.example.invalid"
GATEWAY = {"gateway": {"publicUrl": PUBLIC_URL}}
"""The one value the chart asks for: where voters and staff reach the gateway."""

Manifest = dict[str, Any]


class Invalid(Exception):
    """A manifest that a cluster with strict field validation would refuse."""


def with_public_url(values: dict[str, Any] | None) -> dict[str, Any]:
    """`values` with the gateway's public URL (which the chart requires) unless they say
    one themselves, even an empty one."""
    values = dict(values or {})
    gateway = dict(values.get("gateway", {}))
    gateway.setdefault("publicUrl", PUBLIC_URL)
    return {**values, "gateway": gateway}


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every object `helm template` would produce for `values`, as dicts."""
    with helm_python.Chart.load(str(CHART)) as chart:
        rendered = chart.render(with_public_url(values), name=RELEASE, namespace=NAMESPACE)
    return [
        document
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


def render_text(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Each template's output as `helm template` prints it: documents trimmed, each after
    a `---` and a `# Source:` line; templates that render nothing are left out."""
    with helm_python.Chart.load(str(CHART)) as chart:
        rendered: dict[str, str] = chart.render(
            with_public_url(values), name=RELEASE, namespace=NAMESPACE
        )
    printed = {}
    for path, text in sorted(rendered.items()):
        documents = [document.strip() for document in re.split(r"^---\s*$", text, flags=re.M)]
        kept = [f"---\n# Source: {path}\n{document}\n" for document in documents if document]
        if kept:
            printed[path] = "".join(kept)
    return printed


def validate(manifest: Manifest) -> None:
    """Raise `Invalid` naming the object and the problem; return if a cluster would accept it."""
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    name = manifest.get("metadata", {}).get("name")
    schema = custom_resource_schemas().get((api_version, kind))
    try:
        if schema is not None:
            jsonschema.validate(manifest, schema)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as error:
        raise Invalid(f"{kind} {name}: no schema for {api_version} {kind} ({error})") from None
    except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
        raise Invalid(f"{kind} {name}: {error}") from None


@functools.cache
def custom_resource_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, from files named group_version_Kind.yaml."""
    schemas = {}
    for path in sorted(CRD_SCHEMAS.glob("*.yaml")):
        group, version, kind = path.stem.split("_")
        schemas[(f"{group}/{version}", kind)] = strict(yaml.safe_load(path.read_text()))
    return schemas


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Refuse undeclared fields wherever the schema declares properties and keeps no others."""
    schema = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(schema)
    return schema


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def containers(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """Each Deployment's one container, by Deployment name."""
    return {
        deployment["metadata"]["name"]: deployment["spec"]["template"]["spec"]["containers"][0]
        for deployment in by_kind(manifests, "Deployment")
    }


PROMQL_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset"})
KUBE_STATE_METRICS = frozenset(
    {"kube_pod_container_status_restarts_total", "kube_pod_container_status_ready"}
)
"""The metrics alerts read from kube-state-metrics, which the cluster provides."""


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: every identifier left once strings,
    label matchers, range selectors and grouping clauses are removed, except functions
    (followed by a parenthesis) and keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        if match.group() in PROMQL_KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(match.group())
    return names


def alert_rules(manifests: list[Manifest]) -> list[dict[str, Any]]:
    return [
        rule
        for manifest in by_kind(manifests, "PrometheusRule")
        for group in manifest["spec"]["groups"]
        for rule in group["rules"]
    ]
