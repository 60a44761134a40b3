"""deploy/k8s: well-formed manifests, the promised workloads, probes, non-root pods."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import yaml

from hub.worker.celery_app import QUEUE
from tests.deploy.files import DEPLOY, K8sDoc, k8s_docs, pod_spec, secret_setting_names

K8S = DEPLOY / "k8s"
NAMESPACE = "hub"
HUB_IMAGE = "registry.example.com/hub"
WORKLOADS = ("Deployment", "StatefulSet")
# files kept out of kustomization.yaml on purpose
NOT_IN_KUSTOMIZATION = {
    "kustomization.yaml": "the kustomization itself",
    "secret.example.yaml": "placeholders only: real Secrets are created out of band",
    "keda-worker-scaler.yaml": "needs KEDA's CRDs installed first",
}


@pytest.fixture(scope="module")
def docs() -> list[K8sDoc]:
    return k8s_docs()


def _one(docs: list[K8sDoc], kind: str, name: str) -> K8sDoc:
    found = [d for d in docs if d.kind == kind and d.name == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _workloads(docs: list[K8sDoc]) -> list[K8sDoc]:
    return [d for d in docs if d.kind in WORKLOADS]


def _container(doc: K8sDoc) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(doc)["containers"]
    assert len(containers) == 1, f"{doc}: one container per pod"
    return containers[0]


def _secret_example(docs: list[K8sDoc]) -> dict[str, str]:
    data: dict[str, str] = _one(docs, "Secret", "hub-secrets").body["stringData"]
    return data


def test_every_document_has_api_version_kind_and_name(docs: list[K8sDoc]) -> None:
    assert docs
    for doc in docs:
        assert doc.body.get("apiVersion"), f"{doc}: no apiVersion"
        assert doc.body.get("kind"), f"{doc}: no kind"
        assert doc.body.get("metadata", {}).get("name"), f"{doc}: no metadata.name"


def test_names_are_unique_and_everything_lives_in_the_hub_namespace(
    docs: list[K8sDoc],
) -> None:
    duplicates = [k for k, n in Counter((d.kind, d.name) for d in docs).items() if n > 1]
    assert not duplicates
    for doc in docs:
        if doc.kind not in ("Namespace", "Kustomization"):
            assert doc.body["metadata"].get("namespace") == NAMESPACE, f"{doc}: namespace"
    assert (
        _one(docs, "Namespace", NAMESPACE).body["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        == "restricted"
    )


def test_kustomization_lists_every_manifest(docs: list[K8sDoc]) -> None:
    kustomization = _one(docs, "Kustomization", "hub").body
    resources = set(kustomization["resources"])
    for resource in resources:
        assert (K8S / resource).is_file(), f"kustomization lists missing {resource}"
    files = {p.name for p in K8S.glob("*.y*ml")}
    assert files - resources == set(NOT_IN_KUSTOMIZATION)
    assert kustomization["namespace"] == NAMESPACE
    assert {i["name"] for i in kustomization["images"]} == {HUB_IMAGE}


def test_the_promised_workloads_exist(docs: list[K8sDoc]) -> None:
    for name in ("hub-ingress", "hub-worker", "hub-beat", "hub-flower"):
        _one(docs, "Deployment", name)
    _one(docs, "StatefulSet", "redis")
    for name in ("hub-ingress", "hub-flower", "redis"):
        _one(docs, "Service", name)
    _one(docs, "ConfigMap", "hub-config")


def test_hub_deployments_run_the_hub_image_with_a_command(docs: list[K8sDoc]) -> None:
    expected = {
        "hub-ingress": "serve",
        "hub-worker": "worker",
        "hub-beat": "beat",
        "hub-flower": "flower",
    }
    for name, command in expected.items():
        container = _container(_one(docs, "Deployment", name))
        assert container["image"].startswith(HUB_IMAGE + ":")
        assert "command" not in container, f"{name}: keep the image's `hub` entrypoint"
        assert container["args"][0] == command


def test_ingress_probes_healthz(docs: list[K8sDoc]) -> None:
    container = _container(_one(docs, "Deployment", "hub-ingress"))
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/healthz"
    assert readiness["port"] in {p.get("name") for p in container["ports"]}
    # liveness must not depend on Redis (see the comment in ingress.yaml)
    liveness = container["livenessProbe"]
    assert "tcpSocket" in liveness or liveness.get("httpGet", {}).get("path") == "/healthz"


def test_flower_probes_healthcheck_and_takes_basic_auth_from_the_secret(
    docs: list[K8sDoc],
) -> None:
    container = _container(_one(docs, "Deployment", "hub-flower"))
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthcheck"
    env = {e["name"]: e for e in container["env"]}
    ref = env["HUB_FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "hub-secrets", "key": "HUB_FLOWER_BASIC_AUTH"}


def test_worker_liveness_pings_its_own_node(docs: list[K8sDoc]) -> None:
    container = _container(_one(docs, "Deployment", "hub-worker"))
    args = container["args"]
    prefix = args[args.index("--hostname") + 1].split("@")[0]
    check = " ".join(container["livenessProbe"]["exec"]["command"])
    assert "inspect ping" in check and f'"{prefix}@$HOSTNAME"' in check


def test_beat_is_a_singleton(docs: list[K8sDoc]) -> None:
    spec = _one(docs, "Deployment", "hub-beat").body["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    targets = {
        d.body["spec"]["scaleTargetRef"]["name"]
        for d in docs
        if d.kind in ("HorizontalPodAutoscaler", "ScaledObject")
    }
    assert "hub-beat" not in targets


def test_selectors_match_pod_labels(docs: list[K8sDoc]) -> None:
    for doc in _workloads(docs):
        selector = doc.body["spec"]["selector"]["matchLabels"]
        labels = doc.body["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"{doc}: selector does not match pods"


def test_services_reach_a_workload_port(docs: list[K8sDoc]) -> None:
    for service in (d for d in docs if d.kind == "Service"):
        selector = service.body["spec"]["selector"]
        pods = [
            w
            for w in _workloads(docs)
            if selector.items() <= w.body["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(pods) == 1, f"{service}: selects {len(pods)} workloads"
        port_names = {p.get("name") for p in _container(pods[0]).get("ports", [])}
        for port in service.body["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{service}: unknown targetPort"


@pytest.mark.parametrize("name", ["hub-ingress", "hub-worker", "hub-beat", "hub-flower", "redis"])
def test_pods_are_non_root_read_only_and_bounded(docs: list[K8sDoc], name: str) -> None:
    doc = next(d for d in _workloads(docs) if d.name == name)
    spec = pod_spec(doc)
    # Service links would set HUB_INGRESS_PORT=tcp://... from the hub-ingress Service
    assert spec.get("enableServiceLinks") is False, f"{doc}: enableServiceLinks: false"
    pod_sc = spec.get("securityContext", {})
    assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    for container in spec["containers"]:
        sc = {**pod_sc, **container.get("securityContext", {})}
        assert sc.get("runAsNonRoot") is True, f"{doc}: runAsNonRoot"
        assert isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] > 0
        assert sc.get("allowPrivilegeEscalation") is False
        assert sc.get("readOnlyRootFilesystem") is True
        assert sc.get("capabilities", {}).get("drop") == ["ALL"]
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{doc}: {bound}"
        # a read-only root still needs a writable /tmp
        assert "/tmp" in {m["mountPath"] for m in container.get("volumeMounts", [])}


def test_secrets_come_only_from_the_secret(docs: list[K8sDoc]) -> None:
    example = _secret_example(docs)
    config = _one(docs, "ConfigMap", "hub-config").body["data"]
    secrets = secret_setting_names()
    assert not secrets & set(config), "secret settings in the ConfigMap"
    for doc in _workloads(docs):
        for container in pod_spec(doc)["containers"]:
            for ref in container.get("envFrom", []):
                assert "secretRef" not in ref, f"{doc}: name each secret it needs instead"
                assert ref["configMapRef"]["name"] == "hub-config"
            for env in container.get("env", []):
                if env["name"] in secrets | {"REDIS_PASSWORD"}:
                    assert "value" not in env, f"{doc}: {env['name']} as a literal"
                key_ref = env.get("valueFrom", {}).get("secretKeyRef")
                if key_ref:
                    assert key_ref["name"] == "hub-secrets"
                    assert key_ref["key"] in example, f"{doc}: unknown key {key_ref['key']}"


def test_the_secret_example_holds_placeholders_only(docs: list[K8sDoc]) -> None:
    secrets = [d for d in docs if d.kind == "Secret"]
    assert [d.path.name for d in secrets] == ["secret.example.yaml"]
    example = _secret_example(docs)
    assert "data" not in secrets[0].body, "use stringData so placeholders stay readable"
    for key, value in example.items():
        assert "change-me" in value, f"{key}: example values must be placeholders"
    password = example["REDIS_PASSWORD"]
    assert f":{password}@" in example["HUB_REDIS_URL"], "one password in both keys"
    assert "EXAMPLE ONLY" in (K8S / "secret.example.yaml").read_text()


def test_redis_statefulset_persists_with_aof_and_a_password(docs: list[K8sDoc]) -> None:
    redis = _one(docs, "StatefulSet", "redis")
    assert redis.body["spec"]["replicas"] == 1
    claims = redis.body["spec"]["volumeClaimTemplates"]
    container = _container(redis)
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["data"] == "/data"
    assert claims[0]["metadata"]["name"] == "data"
    assert re.fullmatch(r"redis:7(\.\d+)*(-[\w.]+)?", container["image"])
    script = "\n".join(container["command"])
    assert "/usr/local/etc/redis/redis.conf" in script
    assert re.search(r'requirepass "?\$REDIS_PASSWORD"?', script)
    conf = _one(docs, "ConfigMap", "redis-config").body["data"]["redis.conf"]
    assert conf == (DEPLOY / "redis.conf").read_text(), (
        "the redis-config ConfigMap and deploy/redis.conf differ"
    )
    for probe in ("readinessProbe", "livenessProbe"):
        assert "REDISCLI_AUTH" in " ".join(container[probe]["exec"]["command"])


def test_keda_scales_workers_on_the_hub_list(docs: list[K8sDoc]) -> None:
    scaled = _one(docs, "ScaledObject", "hub-worker").body["spec"]
    assert scaled["scaleTargetRef"]["name"] == "hub-worker"
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == QUEUE
    assert int(trigger["metadata"]["listLength"]) > 0
    host = trigger["metadata"]["address"].split(":")[0]
    assert host.split(".")[:2] == ["redis", NAMESPACE]
    auth = _one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"]).body
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "password" and ref["key"] in _secret_example(docs)


def test_ingress_autoscaler_targets_the_ingress(docs: list[K8sDoc]) -> None:
    hpa = _one(docs, "HorizontalPodAutoscaler", "hub-ingress").body["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "hub-ingress",
    }
    assert hpa["minReplicas"] >= 2


def test_manifests_match_the_kubernetes_schemas(docs: list[K8sDoc]) -> None:
    utils = pytest.importorskip(
        "kubernetes_validate.utils", reason="kubernetes-validate is not installed"
    )
    version = str(utils.latest_version())
    for doc in docs:
        if doc.body["apiVersion"].split("/")[0].endswith(("keda.sh", "kustomize.config.k8s.io")):
            continue  # custom resources and kustomize: no built-in schema
        utils.validate(yaml.safe_load(yaml.safe_dump(doc.body)), version, strict=True)
