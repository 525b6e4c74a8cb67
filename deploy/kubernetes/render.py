"""Render a kustomization without kubectl, and validate what it renders, offline.

    python deploy/kubernetes/render.py deploy/kubernetes/overlays/example            # YAML on stdout
    python deploy/kubernetes/render.py --validate 1.28 --validate 1.37 deploy/kubernetes/base

CI has no kubectl and no cluster, so this renders the small part of kustomize the
manifests here use, and refuses everything else (an unknown kustomization field is
an error, never ignored, so the rendering cannot silently differ from `kubectl
apply -k`):

- ``resources``: YAML files (one or more documents) and directories holding a
  kustomization, rendered first (bases before overlays);
- ``namespace``: set on every namespaced object (cluster-scoped kinds keep none);
- ``images``: ``name`` -> ``newName`` / ``newTag`` in every container of a workload;
- ``replicas``: ``name`` -> ``count`` on a Deployment or StatefulSet;
- ``patches`` with a ``target`` (``kind`` and ``name``) and a JSON 6902 patch, inline
  (``patch``) or in a file (``path``): ``add``, ``replace``, ``remove``, ``test``.

``--validate VERSION`` checks every rendered document against the Kubernetes
OpenAPI schemas of that version that the ``kubernetes-validate`` package ships, in
strict mode (an unknown field is an error). Needs PyYAML and kubernetes-validate,
both installed with the project's ``test`` extra.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}


class RenderError(Exception):
    """The kustomization uses something this renderer does not do, or a patch does not apply."""


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    for doc in documents:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise RenderError(f"{path}: every document needs apiVersion and kind")
    return documents


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize DIRECTORY` would print (for the subset above)."""
    kustomization_file = directory / "kustomization.yaml"
    if not kustomization_file.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(kustomization_file.read_text(encoding="utf-8")) or {}
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise RenderError(f"{kustomization_file}: unsupported field(s) {', '.join(sorted(unknown))}")
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        objects.extend(render(target) if target.is_dir() else load_documents(target))
    for patch in kustomization.get("patches", []):
        apply_patch(objects, patch, directory, kustomization_file)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        set_image(objects, image, kustomization_file)
    for replicas in kustomization.get("replicas", []):
        matches = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == replicas["name"]]
        if not matches:
            raise RenderError(f"{kustomization_file}: replicas: no Deployment or StatefulSet {replicas['name']!r}")
        for obj in matches:
            obj["spec"]["replicas"] = int(replicas["count"])
    return objects


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return [spec["template"]["spec"]]
    return []


def set_image(objects: list[dict[str, Any]], image: dict[str, Any], where: Path) -> None:
    extra = set(image) - {"name", "newName", "newTag"}
    if extra:
        raise RenderError(f"{where}: images: unsupported field(s) {', '.join(sorted(extra))}")
    for obj in objects:
        for pod in pod_specs(obj):
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any], directory: Path, where: Path) -> None:
    target = patch.get("target") or {}
    if set(target) - {"kind", "name"} or not target.get("kind") or not target.get("name"):
        raise RenderError(f"{where}: patches need a target with exactly kind and name")
    if ("patch" in patch) == ("path" in patch):
        raise RenderError(f"{where}: a patch needs one of patch (inline) or path")
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text(encoding="utf-8")
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise RenderError(f"{where}: only JSON 6902 patches (a list of operations) are supported")
    matches = [o for o in objects if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]]
    if not matches:
        raise RenderError(f"{where}: patch target {target['kind']}/{target['name']} not found")
    for obj in matches:
        for operation in operations:
            json_patch(obj, operation, where)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"JSON pointer {path!r} must start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(document: dict[str, Any], operation: dict[str, Any], where: Path) -> None:
    """One RFC 6902 operation (add, replace, remove, test) applied in place."""
    op, parts = operation.get("op"), _pointer(str(operation.get("path", "")))
    parent: Any = document
    try:
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op == "add":
                parent.insert(index, copy.deepcopy(operation["value"]))
            elif op == "replace":
                parent[index] = copy.deepcopy(operation["value"])
            elif op == "remove":
                del parent[index]
            elif op == "test":
                if parent[index] != operation["value"]:
                    raise RenderError(f"{where}: test failed at {operation['path']}")
            else:
                raise RenderError(f"{where}: unsupported op {op!r}")
        else:
            if op == "add":
                parent[last] = copy.deepcopy(operation["value"])
            elif op == "replace":
                if last not in parent:
                    raise RenderError(f"{where}: replace: {operation['path']} does not exist")
                parent[last] = copy.deepcopy(operation["value"])
            elif op == "remove":
                del parent[last]
            elif op == "test":
                if parent[last] != operation["value"]:
                    raise RenderError(f"{where}: test failed at {operation['path']}")
            else:
                raise RenderError(f"{where}: unsupported op {op!r}")
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise RenderError(f"{where}: {op} {operation.get('path')}: no such location ({exc!r})") from None


def validate(objects: list[dict[str, Any]], version: str) -> list[str]:
    """Every schema problem of every object, as 'Kind/name: message' lines (empty: all valid)."""
    import kubernetes_validate

    problems = []
    for obj in objects:
        name = f"{obj['kind']}/{obj.get('metadata', {}).get('name', '?')}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            location = "/".join(str(part) for part in exc.path)
            problems.append(f"{name}: {location}: {exc.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
            problems.append(f"{name}: no schema for it in Kubernetes {version}: {exc}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+", type=Path, help="directories holding a kustomization.yaml")
    parser.add_argument("--validate", action="append", default=[], metavar="VERSION",
                        help="validate against this Kubernetes version's schemas, strictly (repeatable)")
    args = parser.parse_args(argv)
    failed = False
    for directory in args.directories:
        try:
            objects = render(directory)
        except (RenderError, OSError, yaml.YAMLError) as exc:
            print(f"{directory}: {exc}", file=sys.stderr)
            failed = True
            continue
        if not args.validate:
            sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
        for version in args.validate:
            problems = validate(objects, version)
            for problem in problems:
                print(f"{directory}: Kubernetes {version}: {problem}", file=sys.stderr)
            failed = failed or bool(problems)
            if not problems:
                print(f"{directory}: {len(objects)} objects valid against Kubernetes {version} (strict)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
