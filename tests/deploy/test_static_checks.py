"""hadolint on the Dockerfile, yamllint on deploy/ and the rendered chart, checkov on the
rendered chart, and the facts about the image and the examples that no linter knows."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from qunping.operator import database_access
from tests.deploy.manifests import (
    DIGEST,
    MONITORING,
    REPOSITORY,
    by_kind,
    render,
    render_text,
)

CHECKOV = REPOSITORY / ".venv" / "checkov" / "bin" / "checkov"
HADOLINT = Path(sys.executable).parent / "hadolint"

# checkov rules skipped, each for a reason:
CHECKOV_SKIPS = {
    # "Prefer secrets as files over environment variables": configuration is twelve-factor
    # (AMQP_URI, MONGO_URI from the environment, read by nameko's config), the variables come
    # from secretKeyRef only, and no process in the pod but the service can read them.
    "CKV_K8S_35",
}


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = run([str(HADOLINT), "--failure-threshold", "info", "Dockerfile"], cwd=REPOSITORY)

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_flag_a_shell_form_entrypoint(tmp_path: Path) -> None:
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    broken = tmp_path / "Dockerfile"
    broken.write_text(dockerfile.replace('ENTRYPOINT ["qunping", "service"]', "ENTRYPOINT qunping"))

    result = run([str(HADOLINT), str(broken)])

    assert result.returncode != 0
    assert "DL3025" in result.stdout


def test_the_image_runs_nameko_as_pid_1_unprivileged_from_the_runtime_lock_only() -> None:
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    runtime_lock = (REPOSITORY / "requirements-runtime.lock").read_text().lower()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]

    assert stages == ["FROM ${PYTHON_IMAGE} AS builder", "FROM ${PYTHON_IMAGE}"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm\n" in dockerfile
    assert dockerfile.splitlines()[-1] == 'ENTRYPOINT ["qunping", "service"]'
    assert "USER 10001:10001" in dockerfile
    assert "requirements-runtime.lock" in dockerfile
    assert "requirements.lock" not in dockerfile.replace("requirements-runtime.lock", "")
    assert "secantus" not in runtime_lock, "SecantusDB is GPL-2.0 and never in the image"
    assert "nameko==2.14.1" in runtime_lock
    assert "pytest" not in runtime_lock


def test_yamllint_passes_on_deploy_and_on_the_rendered_chart(tmp_path: Path) -> None:
    for path, text in render_text({"keda": {"enabled": True}, "metrics": MONITORING}).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    config = str(REPOSITORY / ".yamllint.yaml")
    yamllint = [sys.executable, "-m", "yamllint", "--strict", "-c", config]

    # Relative paths: the config's ignore patterns (the chart's Go templates) are relative.
    for target in ("deploy", ".yamllint.yaml", str(tmp_path)):
        result = run([*yamllint, target], cwd=REPOSITORY)
        assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_on_the_rendered_chart_with_only_the_justified_skips(
    tmp_path: Path,
) -> None:
    assert CHECKOV.exists(), "checkov's own virtualenv is missing: run `make install`"
    # Production values: images pinned by digest (CKV_K8S_43), everything switched on.
    everything = {
        "keda": {"enabled": True},
        "image": {"digest": DIGEST},
        "metrics": MONITORING,
        "services": {"pledge": {"enabled": True}, "gateway": {"enabled": True}},
    }
    for path, text in render_text(everything).items():
        (tmp_path / path.replace("/", "_")).write_text(text)

    result = run(
        [
            str(CHECKOV),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--skip-check",
            ",".join(sorted(CHECKOV_SKIPS)),
            "--skip-download",
            "--output",
            "json",
        ]
    )
    report = json.loads(result.stdout)
    failed = [
        f"{check['check_id']} {check['resource']}" for check in report["results"]["failed_checks"]
    ]

    assert failed == []
    assert result.returncode == 0
    assert report["summary"]["passed"] > 300
    checked = {check["resource"].split(".")[0] for check in report["results"]["passed_checks"]}
    assert {"Deployment", "Service", "Ingress", "ConfigMap"} <= checked


def test_the_compose_file_runs_every_chart_service_hardened() -> None:
    compose = yaml.safe_load((REPOSITORY / "deploy" / "compose" / "compose.yaml").read_text())
    chart_services = yaml.safe_load(
        (REPOSITORY / "deploy" / "helm" / "qunping" / "values.yaml").read_text()
    )["services"]

    for name in chart_services:
        service = compose["services"][name]
        assert service["command"] == [name]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert service["depends_on"]["mongodb"] == {"condition": "service_healthy"}
    published = [name for name, service in compose["services"].items() if "ports" in service]
    assert published == ["gateway"]


def test_the_kustomize_overlay_patches_objects_the_chart_renders() -> None:
    base = REPOSITORY / "deploy" / "kustomize" / "base"
    overlay = REPOSITORY / "deploy" / "kustomize" / "overlays" / "production"
    [chart] = yaml.safe_load((base / "kustomization.yaml").read_text())["helmCharts"]
    assert (base / chart["chartHome"] / chart["name"] / "Chart.yaml").exists()
    rendered = render(yaml.safe_load((base / chart["valuesFile"]).read_text()))
    names = {(manifest["kind"], manifest["metadata"]["name"]) for manifest in rendered}
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())

    for patch in kustomization["patches"]:
        if "target" in patch:
            target = (patch["target"]["kind"], patch["target"]["name"])
        else:
            document = yaml.safe_load((overlay / patch["path"]).read_text())
            target = (document["kind"], document["metadata"]["name"])
        assert target in names, f"{patch['path']} patches {target}, which the chart lacks"
    [image] = kustomization["images"]
    images = {
        container["image"]
        for deployment in by_kind(rendered, "Deployment")
        for container in deployment["spec"]["template"]["spec"]["containers"]
    }
    assert {f"{image['name']}:0.1.0"} == images


def test_compose_runs_mongodb_with_authentication_and_a_user_per_service() -> None:
    compose = yaml.safe_load((REPOSITORY / "deploy" / "compose" / "compose.yaml").read_text())
    mongodb = compose["services"]["mongodb"]

    assert "--keyFile" in mongodb["command"][0], "a replica set with authentication"
    assert "MONGO_INITDB_ROOT_PASSWORD" in mongodb["environment"]
    assert "./mongo-users.js:/docker-entrypoint-initdb.d/mongo-users.js:ro" in mongodb["volumes"]
    assert database_access.COMPOSE_SCRIPT.read_text() == database_access.compose_script(), (
        "deploy/compose/mongo-users.js is stale: run write_compose_script()"
    )
    for user in database_access.USERS:
        variable = database_access.password_variable(user.service)
        assert variable in mongodb["environment"], "the init script reads it"
        uri = compose["services"][user.service]["environment"]["MONGO_URI"]
        assert uri.startswith(f"mongodb://qunping-{user.service}:${{{variable}}}@mongodb:27017/")
        assert uri.endswith("authSource=admin")


def hashed_pins(lock: str) -> list[tuple[str, str]]:
    """Each pin of a lock and the `--hash` options that follow it."""
    return re.findall(
        r"^([a-z0-9][a-z0-9._-]*==\S+)((?: \\\n\s+--hash=sha256:[0-9a-f]{64})*)",
        (REPOSITORY / lock).read_text(),
        flags=re.MULTILINE,
    )


def test_the_image_and_make_audit_install_only_files_whose_hashes_their_locks_record() -> None:
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    makefile = (REPOSITORY / "Makefile").read_text()

    assert "--require-hashes -r /build/requirements-runtime.lock" in dockerfile
    assert "--require-hashes -r requirements-audit.lock" in makefile
    for lock in ("requirements-runtime.lock", "requirements-audit.lock"):
        pins = hashed_pins(lock)
        assert len(pins) > 20, lock
        assert [pin for pin, hashes in pins if not hashes] == [], lock
