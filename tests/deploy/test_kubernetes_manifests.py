"""deploy/kubernetes: rendered without kubectl, valid against the Kubernetes schemas (strict,
offline), and saying what docs/deploy-kubernetes.md promises: probes on the admin port,
secrets only by reference, a read-only non-root container, a drain that fits the grace
period, a policy the loader accepts, and a prune job the CLI understands."""

from __future__ import annotations

import importlib.util
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
VERSIONS = ("1.28", "1.37")   # the oldest Kubernetes still commonly run, and the newest schemas shipped


def _renderer() -> Any:
    spec = importlib.util.spec_from_file_location("kube_render", KUBE / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _renderer()
DIRECTORIES = [KUBE / "base", KUBE / "overlays" / "example"]


def objects_of(directory: Path) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in render.render(directory)}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: d.name)
def test_every_rendered_document_is_valid_strictly(directory: Path, version: str) -> None:
    objects = render.render(directory)
    assert {o["kind"] for o in objects} >= {
        "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "CronJob",
    }
    assert render.validate(objects, version) == []


def test_strict_validation_catches_a_misspelt_field_and_a_wrong_type() -> None:
    objects = render.render(KUBE / "base")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz", "port": 9090}}
    problems = render.validate(objects, VERSIONS[-1])
    assert len(problems) == 1 and "readinesProbe" in problems[0], problems
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"]
    objects[-1]["spec"]["schedule"] = 17   # the CronJob's schedule must be a string
    problems = render.validate(objects, VERSIONS[-1])
    assert len(problems) == 1 and problems[0].startswith("CronJob/") and "schedule" in problems[0], problems


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator:\n  - name: x\n", encoding="utf-8")
    with pytest.raises(render.RenderError, match="configMapGenerator"):
        render.render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [../../]\npatches:\n  - target: {kind: Deployment, name: nope}\n    patch: '[]'\n", encoding="utf-8"
    )
    with pytest.raises(render.RenderError):
        render.render(tmp_path)


def test_overlay_applies_namespace_image_replicas_and_patches() -> None:
    objects = render.render(KUBE / "overlays" / "example")
    assert all(o["metadata"].get("namespace") == "consentry" for o in objects if o["kind"] != "Namespace")
    by_kind = {o["kind"]: o for o in objects}
    assert by_kind["Deployment"]["spec"]["replicas"] == 3
    images = {c["image"] for o in objects for pod in render.pod_specs(o) for c in pod["containers"]}
    assert images == {"registry.example.com/consentry:0.1.0"}
    assert by_kind["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 3
    assert "shop.example" in by_kind["ConfigMap"]["data"]["consentry.toml"]


def _policy(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return tomllib.loads(objects["ConfigMap"]["data"]["consentry.toml"])


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: d.name)
def test_deployment_contract(directory: Path) -> None:
    objects = objects_of(directory)
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    policy = _policy(objects)
    assert policy["proxy"]["admin_listen"].endswith(f":{ports['admin']}")
    assert policy["proxy"]["listen"].endswith(f":{ports['http']}")
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert any(m["mountPath"] == "/tmp" and m["name"] in empty_dirs for m in container["volumeMounts"])
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(ports["admin"])
    # The Dockerfile's user is the one the pod asks for.
    assert f"USER {pod['securityContext']['runAsUser']}:" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: d.name)
def test_drain_fits_the_grace_period(directory: Path) -> None:
    objects = objects_of(directory)
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    command = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert int(command[1]) + _policy(objects)["proxy"]["drain_timeout"] < pod["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: d.name)
def test_secrets_only_by_reference(directory: Path) -> None:
    objects = render.render(directory)
    assert not [o for o in objects if o["kind"] == "Secret"], "secret values must never be in the manifests"
    for obj in objects:
        for pod in render.pod_specs(obj):
            for container in pod["containers"]:
                for env in container.get("env", []):
                    assert "secretKeyRef" in env.get("valueFrom", {}), f"{env['name']} is not from a Secret"
            secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
            assert secrets == {"consentry-keys"}
    text = "".join(path.read_text(encoding="utf-8") for path in KUBE.rglob("*.yaml"))
    assert not re.search(r"postgres(ql)?://[^\s\"']*:[^\s\"'@]*@", text), "a database password is inline"


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: d.name)
def test_the_shipped_policy_loads_as_a_shared_deployment(
    directory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxy.policy import load_config

    text = objects_of(directory)["ConfigMap"]["data"]["consentry.toml"]
    keys = tmp_path / "keys"
    keys.mkdir()
    for kid in re.findall(r'secret_file = "/etc/consentry/keys/([^"]+)"', text):
        (keys / kid).write_text("k" * 48, encoding="utf-8")
    (tmp_path / "consentry.toml").write_text(text.replace("/etc/consentry/keys/", f"{keys}/"), encoding="utf-8")
    monkeypatch.setenv("CONSENTRY_RECEIPTS_URL", "postgresql://consentry@db.internal:5432/consentry")
    monkeypatch.setenv("CONSENTRY_IP_SALT", "salt")
    monkeypatch.delenv("CONSENTRY_SECRET", raising=False)
    config = load_config(tmp_path / "consentry.toml")
    assert config.receipts.shared and config.receipts.url.startswith("postgresql://")
    assert not any(key.ephemeral for key in config.consent.keys)


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda d: d.name)
def test_admin_port_stays_internal(directory: Path) -> None:
    objects = objects_of(directory)
    assert [p["targetPort"] for p in objects["Service"]["spec"]["ports"]] == ["http"]
    rules = objects["NetworkPolicy"]["spec"]["ingress"]
    admin_rules = [r for r in rules if any(p["port"] == "admin" for p in r["ports"])]
    assert admin_rules and all(r.get("from") for r in admin_rules)
    assert objects["PodDisruptionBudget"]["spec"]["selector"] == objects["Deployment"]["spec"]["selector"]
    assert objects["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2


def test_the_prune_job_runs_a_command_the_cli_has() -> None:
    from proxy.cli import build_parser

    cronjob = objects_of(KUBE / "base")["CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "receipts" and args.receipts_command == "prune", shlex.join(container["args"])
