"""The Kubernetes manifests (``deploy/k8s/``): every object valid against Kubernetes' own JSON
Schemas in strict mode (``kubernetes-validate``, which ships them: no cluster, no network), and
the manifests consistent with each other and with Muster: selectors, references, probe ports,
partition and shard counts equal to replicas, a NATS config the server accepts, and every
``muster`` command and ``MUSTER_*`` setting known to the CLI and the settings."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.settings import Settings
from tests.unit.deploy.configs import (
    DEPLOY,
    nats_config_problems,
    parse,
    unknown_settings,
)

K8S = DEPLOY / "k8s"
# The oldest Kubernetes the manifests are for: pods learn their ordinal from the
# `apps.kubernetes.io/pod-index` label (beta and on by default since 1.28).
KUBERNETES = "1.28"
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
Doc = dict[str, Any]


def documents() -> list[tuple[str, Doc]]:
    """(file name, object) for every object in the manifests."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def objects(kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for _, d in documents() if d["kind"] == kind}


def workloads() -> dict[str, Doc]:
    return objects("StatefulSet") | objects("Deployment")


def muster_containers() -> list[tuple[Doc, Doc]]:
    """(workload, container) for every container running the Muster image."""
    return [
        (w, c)
        for w in workloads().values()
        for c in w["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith("muster:")
    ]


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def argv_for(container: Doc, index: int) -> list[str]:
    """The container's ``muster`` arguments as the pod with ordinal ``index`` runs them."""
    args: list[str] = container["args"]
    return [a.replace("$(POD_INDEX)", str(index)) for a in args]


@pytest.mark.parametrize(("name", "doc"), documents(), ids=lambda v: str(v)[:40])
def test_valid_against_the_kubernetes_schemas(name: str, doc: Doc) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_strict_validation_would_catch_a_misspelt_field() -> None:
    api = dict(workloads()["api"])
    container = dict(api["spec"]["template"]["spec"]["containers"][0])
    container["livenesProbe"] = container.pop("livenessProbe")
    api["spec"] = {**api["spec"], "template": {**api["spec"]["template"], "spec": {
        **api["spec"]["template"]["spec"], "containers": [container]}}}  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(api, KUBERNETES, strict=True)


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files - {"secrets.example.yaml"}
    assert {d["metadata"]["namespace"] for _, d in documents() if d["kind"] != "Namespace"} == {
        kustomization["namespace"]
    }


def test_the_scaled_shape_is_all_there() -> None:
    assert set(objects("StatefulSet")) == {"nats", "commands", "projector", "bot"}
    assert set(objects("Deployment")) == {"api", "scheduler", "worker"}
    assert workloads()["nats"]["spec"]["replicas"] == 3
    assert workloads()["api"]["spec"]["replicas"] >= 2


def test_selectors_match_their_pods_and_services_reach_a_workload() -> None:
    pods = {n: w["spec"]["template"]["metadata"]["labels"] for n, w in workloads().items()}
    for name, w in workloads().items():
        assert w["spec"]["selector"]["matchLabels"].items() <= pods[name].items(), name
        if w["kind"] == "StatefulSet":
            assert w["spec"]["serviceName"] in objects("Service"), name
    for name, service in objects("Service").items():
        selector = service["spec"]["selector"].items()
        assert any(selector <= labels.items() for labels in pods.values()), name
    for name, budget in objects("PodDisruptionBudget").items():
        selector = budget["spec"]["selector"]["matchLabels"].items()
        assert any(selector <= labels.items() for labels in pods.values()), name


def test_config_and_secret_references_exist() -> None:
    config_maps, secrets = objects("ConfigMap"), objects("Secret")
    for w in workloads().values():
        spec = w["spec"]["template"]["spec"]
        for c in spec["containers"]:
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]]["stringData"], ref
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps


def test_probes_use_ports_the_container_opens() -> None:
    for w in workloads().values():
        for c in w["spec"]["template"]["spec"]["containers"]:
            ports = {p["name"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "httpGet" in c.get(probe, {}):
                    assert c[probe]["httpGet"]["port"] in ports, (w["metadata"]["name"], probe)
    api = workloads()["api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/api/v1/ping"
    assert api["readinessProbe"]["httpGet"]["path"] == "/api/v1/status"


def probe_argv(probe: Doc, index: int) -> list[str]:
    """An exec probe's ``muster`` arguments as the pod with ordinal ``index`` runs them."""
    command: list[str] = probe["exec"]["command"]
    if command[:2] == ["sh", "-c"]:
        command = shlex.split(command[2].replace("$POD_INDEX", str(index)))
        command = command[1:] if command[0] == "exec" else command
    assert command[0] == "muster", command
    return command[1:]


@pytest.mark.parametrize("name", ["bot", "projector", "scheduler", "worker", "commands"])
def test_processes_without_http_are_probed_with_their_own_health_key(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deploy.bot_cmd import health_name
    from deploy.commands_cmd import worker_name
    from deploy.health_cmd import key_of, projector_key, worker_key

    workload = workloads()[name]
    [container] = workload["spec"]["template"]["spec"]["containers"]
    config = objects("ConfigMap")["muster-config"]["data"]
    replicas = workload["spec"]["replicas"]
    monkeypatch.setenv("MUSTER_COMMAND_WORKERS", config["MUSTER_COMMAND_WORKERS"])
    monkeypatch.setenv("MUSTER_BOT_SHARDS", str(replicas))
    for index in range(replicas):
        monkeypatch.setenv("MUSTER_BOT_SHARD_IDS", str(index))  # what the pod-index label gives
        expected = {
            "bot": health_name(Settings()),
            "projector": projector_key(index, replicas),
            "scheduler": "scheduler",
            "worker": worker_key(),
            "commands": worker_name(replicas, [index]),
        }[name]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            args = parse(probe_argv(container[probe], index))
            assert (args.command, args.process) == ("health", name), probe
            assert key_of(args, Settings()) == expected, (name, index, probe)
            # alive (degraded too) keeps the pod; ready needs "running"
            assert args.live is (probe != "readinessProbe"), probe


def test_every_muster_command_parses_for_every_pod() -> None:
    for w, c in muster_containers():
        name = w["metadata"]["name"]
        for index in range(w["spec"]["replicas"]):
            argv = argv_for(c, index)
            args = parse(argv)
            assert args.command == name
            if name == "projector":
                assert (args.partitions, args.partition) == (w["spec"]["replicas"], index)
            if name == "commands":
                assert args.worker == [index]
        if "$(POD_INDEX)" in " ".join(c["args"]):
            assert env_of(c)["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX


def test_settings_exist_and_counts_equal_replicas() -> None:
    config = objects("ConfigMap")["muster-config"]["data"]
    names = set(config) | set(objects("Secret")["muster-secrets"]["stringData"])
    names |= {n for _, c in muster_containers() for n in env_of(c)}
    unknown = unknown_settings(names)
    assert not unknown, f"not settings: {sorted(unknown)}"
    replicas = {n: w["spec"]["replicas"] for n, w in workloads().items()}
    assert int(config["MUSTER_COMMAND_WORKERS"]) == replicas["commands"]
    assert int(config["MUSTER_EVENTS_REPLICAS"]) == replicas["nats"]
    assert config["MUSTER_COMMANDS"] == "nats"


def test_each_bot_pod_runs_its_own_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    bot = workloads()["bot"]
    [container] = bot["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    shards = int(env["MUSTER_BOT_SHARDS"]["value"])
    assert shards == bot["spec"]["replicas"]
    assert env["MUSTER_BOT_SHARD_IDS"]["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX
    seen = []
    for index in range(bot["spec"]["replicas"]):  # what the pod-index label gives each pod
        monkeypatch.setenv("MUSTER_BOT_SHARDS", str(shards))
        monkeypatch.setenv("MUSTER_BOT_SHARD_IDS", str(index))
        seen += Settings().bot_shard_ids or []
    assert sorted(seen) == list(range(shards))  # every shard runs, once


def test_the_nats_cluster_config_is_one_the_server_accepts(tmp_path: Path) -> None:
    nats = workloads()["nats"]
    text = objects("ConfigMap")["nats-config"]["data"]["nats.conf"]
    routes = [line.strip() for line in text.splitlines() if line.strip().startswith("nats://")]
    namespace = nats["metadata"]["namespace"]
    assert routes == [
        f"nats://nats-{i}.nats.{namespace}.svc.cluster.local:6222"
        for i in range(nats["spec"]["replicas"])
    ]
    assert "sync_interval: always" in text
    env = {"SERVER_NAME": "nats-0", "NATS_PASSWORD": "secret"}
    assert nats_config_problems(text, tmp_path, **env) == ""
    wrong = text.replace("routes", "route_list")
    assert "route_list" in nats_config_problems(wrong, tmp_path, **env)
