"""deploy/k8s without a cluster: every layout renders with `kubectl kustomize`, passes
kubernetes-validate strictly (unknown fields fail) against the Kubernetes releases
supported today, and keeps the promises the README makes about it. Nothing here applies
the manifests to a cluster (there is none on these machines)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest

from app.config import Settings
from app.server import create_app
from tests.federation.stack import GATEWAY_DIR, GatewayProcess
from tests.deploy.manifests import (
    K8S,
    LAYOUTS,
    OPERATOR_SECRETS,
    ROOT,
    Rendered,
    containers,
    env_value_from,
    image_tag,
    main_container,
    pod_labels,
    pod_spec,
    render,
    selects,
)
from tests.integration.bus_fixtures import free_port

# The three minor releases the Kubernetes project supports at the time of writing.
KUBERNETES_VERSIONS = ("1.35", "1.36", "1.37")
# `whistle serve` drains for WHISTLE_EXECUTION_TIMEOUT_SECONDS + 5 s on SIGTERM (app/cli.py,
# uvicorn's timeout_graceful_shutdown), then closes the relay, consumers and pools.
DRAIN_MARGIN_SECONDS = 5
CLOSING_SECONDS = 5
SHARED_SECRETS = ("WHISTLE_CURSOR_SECRET", "WHISTLE_REDIS_URL", "WHISTLE_DATABASE_URL")


@pytest.fixture(scope="module", params=LAYOUTS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return Rendered(request.param, render(request.param))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_layout_passes_strict_schema_validation(rendered: Rendered, version: str) -> None:
    problems = []
    for obj in rendered.objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as error:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {error}")
    assert problems == []


def test_the_layouts_run_the_expected_deployments(rendered: Rendered) -> None:
    federated = {"whistle-directory", "whistle-fixtures", "whistle-assignments", "hive-gateway"}
    expected = federated if "federated" in rendered.layout else {"whistle"}
    assert {d["metadata"]["name"] for d in rendered.of_kind("Deployment")} == expected
    local = "in-cluster" in rendered.layout
    assert {s["metadata"]["name"] for s in rendered.of_kind("StatefulSet")} == ({"postgres", "redis"} if local else set())


def test_every_deployment_has_3_replicas_a_budget_an_autoscaler_and_spreads_over_nodes(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        name, labels = deployment["metadata"]["name"], pod_labels(deployment)
        assert deployment["spec"]["replicas"] == 3, name
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name

        (budget,) = [p for p in rendered.of_kind("PodDisruptionBudget") if selects(p["spec"]["selector"]["matchLabels"], labels)]
        assert 2 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"], name  # a drain can still proceed

        (autoscaler,) = [
            h for h in rendered.of_kind("HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["minReplicas"] >= 3 and autoscaler["spec"]["maxReplicas"] > 3
        assert [m["resource"]["name"] for m in autoscaler["spec"]["metrics"] if m["type"] == "Resource"] == ["cpu"]

        by_node = [
            c for c in pod_spec(deployment)["topologySpreadConstraints"]
            if c["topologyKey"] == "kubernetes.io/hostname" and selects(c["labelSelector"]["matchLabels"], labels)
        ]
        assert by_node and by_node[0]["maxSkew"] == 1, name
        for container in containers(deployment):
            assert {"requests", "limits"} <= container["resources"].keys(), (name, container["name"])
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), (name, container["name"])
            assert "memory" in container["resources"]["limits"], (name, container["name"])


def app_settings(rendered: Rendered, tmp_path: Path, subgraph: str | None) -> Settings:
    """whistle's Settings from the layout's ConfigMap (so a bad value fails here), on a
    database and keys of this test instead of the cluster's."""
    values: dict[str, Any] = {
        key.removeprefix("WHISTLE_").lower(): value
        for key, value in rendered.settings().items()
        if key.startswith("WHISTLE_")
    }
    values.update(database_url=f"sqlite+aiosqlite:///{tmp_path}/probe.db", redis_url=None, subgraph=subgraph)
    if "jwt_local_keys" in values:
        values["jwt_local_keys"] = str(tmp_path / "keys")
    return Settings(**values)


async def test_whistle_probes_point_at_endpoints_the_app_serves(rendered: Rendered, tmp_path: Path) -> None:
    for deployment in rendered.whistle_servers():
        command, container = main_container(deployment)["command"], main_container(deployment)
        subgraph = command[command.index("--subgraph") + 1] if "--subgraph" in command else None
        probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "readiness", "liveness")}
        assert {probe["port"] for probe in probes.values()} == {"http"}
        assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [8000]

        application = create_app(app_settings(rendered, tmp_path, subgraph))
        async with application.router.lifespan_context(application):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://pod") as client:
                answers = {kind: await client.get(probe["path"]) for kind, probe in probes.items()}
        assert {kind: answer.status_code for kind, answer in answers.items()} == dict.fromkeys(probes, 200)
        # Readiness is the probe that checks the database (and Redis); liveness must not, or
        # a database outage would restart every pod.
        assert "database" in answers["readiness"].json()["checks"]
        assert "checks" not in answers["liveness"].json()


def test_the_gateway_probes_point_at_endpoints_hive_gateway_serves(tmp_path: Path) -> None:
    """The gateway of gateway/package.json (the image's version), started from gateway/."""
    rendered = Rendered("overlays/federated", render("overlays/federated"))
    container = main_container(rendered.named("Deployment", "hive-gateway"))
    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("readiness", "liveness")}
    assert {probe["port"] for probe in probes.values()} == {"http"}
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [int(container["args"][-1])]

    unreachable = {name: "http://127.0.0.1:1/graphql" for name in ("directory", "fixtures", "assignments")}
    gateway = GatewayProcess(free_port(), unreachable, tmp_path, GATEWAY_DIR / "supergraph.graphql").start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10, trust_env=False) as client:
            answers = {kind: client.get(probe["path"]).status_code for kind, probe in probes.items()}
            missing = client.get("/no-such-endpoint").status_code
    finally:
        gateway.stop()
    assert answers == dict.fromkeys(probes, 200)
    assert missing == 404  # a probe path the gateway did not serve would not pass


def test_every_image_is_pinned_and_whistle_runs_one_release(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        for container in containers(workload):
            tag = image_tag(container["image"])
            assert tag not in (None, "latest"), f"{workload['metadata']['name']}: {container['image']} is not pinned"
    whistle_images = {
        c["image"] for w in rendered.workloads() for c in containers(w) if c["image"].rsplit("/", 1)[-1].split(":")[0] == "whistle"
    }
    assert len(whistle_images) == 1, whistle_images


def test_every_replica_reads_the_same_cursor_secret_redis_and_database(rendered: Rendered) -> None:
    servers = rendered.whistle_servers()
    assert servers
    for name in SHARED_SECRETS:
        references = {json.dumps(env_value_from(main_container(d), name), sort_keys=True) for d in servers}
        assert len(references) == 1, f"{name} differs between Deployments: {references}"
        (reference,) = [json.loads(r) for r in references]
        assert reference is not None and "secretKeyRef" in reference, f"{name} must come from a Secret: {reference}"
        assert not reference["secretKeyRef"].get("optional", False), f"{name} must be required (a pod without it must not start)"
        assert name not in rendered.settings(), f"{name} must not be in the ConfigMap"
        secret = rendered.named("Secret", reference["secretKeyRef"]["name"])
        if secret is not None:  # generated by the layout (kind); otherwise the operator creates it
            assert reference["secretKeyRef"]["key"] in secret["data"]


def test_shutdown_waits_for_the_endpoint_to_go_and_outlasts_the_drain(rendered: Rendered, tmp_path: Path) -> None:
    settings = app_settings(rendered, tmp_path, None)
    drain = settings.execution_timeout_seconds + DRAIN_MARGIN_SECONDS
    servers = {d["metadata"]["name"] for d in rendered.whistle_servers()}
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        pause = main_container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert pause >= 5, name  # endpoints leave the Service and the Ingress before SIGTERM
        needed = pause + drain + CLOSING_SECONDS if name in servers else pause + CLOSING_SECONDS
        assert grace >= needed, f"{name}: terminationGracePeriodSeconds {grace} < preStop {pause} + drain"


def test_nothing_runs_as_root_or_writes_to_its_image(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        name, spec = workload["metadata"]["name"], pod_spec(workload)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["enableServiceLinks"] is False, name  # a Service named whistle would set WHISTLE_PORT=tcp://...
        assert spec["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert security["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert security["capabilities"] == {"drop": ["ALL"]}, (name, container["name"])
            assert not security.get("privileged", False), (name, container["name"])


def test_whistle_runs_in_production_mode_with_jwt(rendered: Rendered) -> None:
    settings = rendered.settings()
    assert settings["WHISTLE_ENV"] == "production"
    assert settings["WHISTLE_AUTH"] == "jwt"
    assert settings["WHISTLE_HOST"] == "0.0.0.0" and settings["WHISTLE_PORT"] == "8000"


def test_migrations_run_once_in_a_job_the_servers_wait_for(rendered: Rendered) -> None:
    (job,) = rendered.of_kind("Job")
    migrate = main_container(job)
    assert migrate["command"] == ["whistle", "migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] > 0
    for deployment in rendered.whistle_servers():
        (wait,) = pod_spec(deployment)["initContainers"]
        assert "whistle migrate --check" in " ".join(wait["command"])
        assert wait["image"] == migrate["image"] == main_container(deployment)["image"]
        database = env_value_from(main_container(deployment), "WHISTLE_DATABASE_URL")
        assert env_value_from(wait, "WHISTLE_DATABASE_URL") == env_value_from(migrate, "WHISTLE_DATABASE_URL") == database


def test_services_and_the_ingress_reach_the_pods_over_websockets_too(rendered: Rendered) -> None:
    for service in rendered.of_kind("Service"):
        name = service["metadata"]["name"]
        (workload,) = [w for w in rendered.workloads() if w["kind"] != "Job" and selects(service["spec"]["selector"], pod_labels(w))]
        port_names = {p["name"] for p in main_container(workload)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names, name

    (ingress,) = rendered.of_kind("Ingress")
    annotations = ingress["metadata"]["annotations"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):  # an idle subscription outlives nginx's 60 s
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    backend = path["backend"]["service"]
    assert path["path"] == "/" and path["pathType"] == "Prefix"
    assert backend["name"] == ("hive-gateway" if "federated" in rendered.layout else "whistle")
    service = rendered.named("Service", backend["name"])
    assert service is not None and backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def _references(obj: Any) -> list[tuple[str, str]]:
    """Every (kind, name) a pod template refers to: ConfigMaps and Secrets."""
    found: list[tuple[str, str]] = []
    if isinstance(obj, dict):
        for key, kind in (("configMapRef", "ConfigMap"), ("configMapKeyRef", "ConfigMap"), ("configMap", "ConfigMap"),
                          ("secretRef", "Secret"), ("secretKeyRef", "Secret")):
            if isinstance(obj.get(key), dict):
                found.append((kind, obj[key]["name"]))
        if isinstance(obj.get("secret"), dict):
            found.append(("Secret", obj["secret"]["secretName"]))
        for value in obj.values():
            found += _references(value)
    elif isinstance(obj, list):
        for value in obj:
            found += _references(value)
    return found


def test_every_config_map_and_secret_a_pod_needs_is_rendered_or_named_for_the_operator(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        for kind, name in _references(pod_spec(workload)):
            if kind == "Secret" and name in OPERATOR_SECRETS:
                continue
            assert rendered.named(kind, name) is not None, f"{workload['metadata']['name']} refers to a missing {kind} {name}"
    if "in-cluster" in rendered.layout:  # kind: everything but the key pair is generated
        assert not any(name == "whistle-secrets" for _, name in _references(rendered.objects))


@pytest.mark.parametrize("layout", [layout for layout in LAYOUTS if "federated" in layout])
def test_the_federated_layout_runs_each_subgraph_behind_the_gateway(layout: str) -> None:
    rendered = Rendered(layout, render(layout))
    gateway = rendered.named("Deployment", "hive-gateway")
    assert gateway is not None
    urls = {e["name"]: e["value"] for e in main_container(gateway)["env"] if e["name"].endswith("_URL")}
    for subgraph in ("directory", "fixtures", "assignments"):
        (deployment,) = [d for d in rendered.whistle_servers() if main_container(d)["command"][2:] == ["--subgraph", subgraph]]
        match = re.fullmatch(r"http://([a-z0-9-]+)/graphql", urls[f"{subgraph.upper()}_URL"])
        assert match, urls
        service = rendered.named("Service", match.group(1))
        assert service is not None and selects(service["spec"]["selector"], pod_labels(deployment)), subgraph
        assert service["spec"]["ports"][0]["port"] == 80
    assert rendered.settings()["WHISTLE_RATE_LIMIT_POINTS"] == "0"  # every caller has a gateway pod's address

    package = json.loads((ROOT / "gateway" / "package.json").read_text())
    assert main_container(gateway)["image"] == f"ghcr.io/graphql-hive/gateway:{package['dependencies']['@graphql-hive/gateway']}"


@pytest.mark.parametrize("name", ["gateway.config.mjs", "supergraph.graphql"])
def test_the_federated_layout_ships_the_current_gateway_files(name: str) -> None:
    copy = K8S / "overlays" / "federated" / "gateway" / name
    assert copy.read_text() == (ROOT / "gateway" / name).read_text(), f"run `make supergraph` (it copies gateway/{name})"
