"""The Argo objects of k8s/ read as the pinned controllers read them (Argo Events v1.9.10, Argo Workflows v4.0.6).

- EventSource, Sensor and EventBus validate against Argo Events' own swagger; WorkflowTemplate and the Workflow
  the Sensor creates against Argo Workflows' JSON schema (tests/fixtures/argo-*/, PROVENANCE.md there). Strict:
  an object schema that lists its properties admits no other field, and scalars keep their types (Argo Events'
  `Amount` is a number, so `factor: "2"` fails as the controller fails it).
- The Deployment the Argo Events controller builds for the EventSource and the Sensor (its `tmp` emptyDir at
  /tmp, the EventBus auth volume and one volume per referenced Secret, appended to the template's, as
  pkg/reconciler/{eventsource,sensor}/resource.go do) is a valid PodSpec with unique volume names and mount paths.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from lib.config import Settings
from lib.engines.argo_index import SCAN_WORKFLOW_SELECTOR
from tests.test_k8s_manifests import KUBERNETES_VERSION, OVERLAYS, _one, _render

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = "io.argoproj.events.v1alpha1."
WORKFLOWS = "io.argoproj.workflow.v1alpha1."
# Kubernetes reads these as "an int or a string" (x-kubernetes-int-or-string); the swagger only says string.
INT_OR_STRING = (
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.argoproj.events.v1alpha1.Int64OrString",
)


def _strict(node: Any) -> Any:
    """Every object schema that names its properties admits no others (Go's strict decoding, kubectl's
    --validate=strict); maps (additionalProperties given) and free-form objects stay open."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _drop_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_required(v) for k, v in node.items() if not (k == "required" and isinstance(v, list))}
    if isinstance(node, list):
        return [_drop_required(v) for v in node]
    return node


@functools.cache
def _definitions(name: str) -> dict[str, Any]:
    doc = json.loads((FIXTURES / name).read_text())
    definitions = _strict(doc["definitions"])
    if name.startswith("argo-events/"):
        # openapi-gen marks every Go field without `omitempty` required (e.g. the webhook's `url`, which no
        # webhook EventSource sets); Go's JSON decoding the controller does never requires a field.
        definitions = _drop_required(definitions)
    for key in INT_OR_STRING:
        if key in definitions:
            definitions[key] = {"type": ["integer", "string"]}
    return definitions


def _validator(fixture: str, definition: str) -> jsonschema.protocols.Validator:
    schema = {"definitions": _definitions(fixture), "allOf": [{"$ref": f"#/definitions/{definition}"}]}
    return jsonschema.Draft7Validator(schema)


def events_validator(kind: str) -> jsonschema.protocols.Validator:
    return _validator("argo-events/swagger.json", EVENTS + kind)


def workflows_validator(kind: str) -> jsonschema.protocols.Validator:
    return _validator("argo-workflows/schema.json", WORKFLOWS + kind)


def _errors(validator: jsonschema.protocols.Validator, doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {o: _render(f"overlays/{o}") for o in OVERLAYS}


def _embedded_workflow(sensor: dict) -> dict:
    return sensor["spec"]["triggers"][0]["template"]["k8s"]["source"]["resource"]


# ---------------------------------------------------------------- strict schema validation


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    ("kind", "name"), [("EventSource", "scan-requests"), ("Sensor", "scan-requests"), ("EventBus", "default")]
)
def test_argo_events_objects_match_argo_events_swagger(rendered, overlay, kind, name):
    doc = _one(rendered[overlay], kind, name)
    assert _errors(events_validator(kind), doc) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workflow_template_and_the_sensors_workflow_match_argo_workflows_schema(rendered, overlay):
    docs = rendered[overlay]
    assert _errors(workflows_validator("WorkflowTemplate"), _one(docs, "WorkflowTemplate", "scanboard-scan")) == []
    workflow = _embedded_workflow(_one(docs, "Sensor", "scan-requests"))
    assert _errors(workflows_validator("Workflow"), workflow) == []


def test_backoff_factor_and_jitter_must_be_numbers(rendered):
    """Defect 2: Argo Events' Amount keeps the quotes of "2" and its Float64() fails before the trigger runs."""
    sensor = copy.deepcopy(_one(rendered["prod"], "Sensor", "scan-requests"))
    retry = sensor["spec"]["triggers"][0]["retryStrategy"]
    assert isinstance(retry["factor"], (int, float)) and not isinstance(retry["factor"], bool)
    assert isinstance(retry["jitter"], (int, float)) and 0 <= retry["jitter"] < 1
    retry["factor"], retry["jitter"] = "2", "0.2"
    errors = _errors(events_validator("Sensor"), sensor)
    assert any("retryStrategy/factor" in e for e in errors) and any("retryStrategy/jitter" in e for e in errors)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("EventSource", ["spec", "webhook", "scan", "maxPayloadSize"]),
        ("EventSource", ["spec", "template", "container", "resources", "limits", "cpu"]),
        ("EventBus", ["spec", "jetstream", "replicas"]),
    ],
)
def test_wrong_scalar_types_fail(rendered, kind, path):
    name = "default" if kind == "EventBus" else "scan-requests"
    doc = copy.deepcopy(_one(rendered["prod"], kind, name))
    parent = functools.reduce(lambda o, k: o[k], path[:-1], doc)
    parent[path[-1]] = [parent[path[-1]]]  # a list where a scalar belongs
    assert any("/".join(path) in e for e in _errors(events_validator(kind), doc))


@pytest.mark.parametrize(
    ("kind", "where"),
    [
        ("EventSource", ["spec", "webhook", "scan"]),
        ("Sensor", ["spec", "triggers", 0, "retryStrategy"]),
        ("EventBus", ["spec", "jetstream"]),
    ],
)
def test_unknown_fields_fail_in_argo_events_objects(rendered, kind, where):
    name = "default" if kind == "EventBus" else "scan-requests"
    doc = copy.deepcopy(_one(rendered["prod"], kind, name))
    functools.reduce(lambda o, k: o[k], where, doc)["maxPayloadSise"] = 1
    assert any("maxPayloadSise" in e for e in _errors(events_validator(kind), doc))


def test_unknown_fields_and_wrong_types_fail_in_workflows(rendered):
    wt = copy.deepcopy(_one(rendered["prod"], "WorkflowTemplate", "scanboard-scan"))
    wt["spec"]["templates"][1]["retryStrategy"]["affinity"]["nodeAntiAfinity"] = {}
    wt["spec"]["activeDeadlineSeconds"] = {"seconds": 1}
    errors = _errors(workflows_validator("WorkflowTemplate"), wt)
    assert any("nodeAntiAfinity" in e for e in errors) and any("activeDeadlineSeconds" in e for e in errors)
    workflow = copy.deepcopy(_embedded_workflow(_one(rendered["prod"], "Sensor", "scan-requests")))
    workflow["spec"]["workflowTemplateRef"]["nmae"] = "scanboard-scan"
    assert any("nmae" in e for e in _errors(workflows_validator("Workflow"), workflow))


# ---------------------------------------------------------------- the Deployments the Argo Events controller builds


def _secret_names(node: Any) -> list[str]:
    """Every SecretKeySelector ({name, key}) in the spec: the controller mounts each Secret (findTypeValues)."""
    found: list[str] = []
    if isinstance(node, dict):
        if set(node) >= {"name", "key"} and all(isinstance(node[k], str) for k in ("name", "key")):
            found.append(node["name"])
        for value in node.values():
            found += _secret_names(value)
    elif isinstance(node, list):
        for value in node:
            found += _secret_names(value)
    return found


def controller_pod_spec(obj: dict) -> dict:
    """The PodSpec of the Deployment Argo Events v1.9.10 builds for an EventSource or Sensor (resource.go):
    the template's volumes and mounts, then the controller's own, sorted by name: `tmp` at /tmp, the JetStream
    bus's `auth-volume` at /etc/eventbus/auth, and `secret-<name>` at /argo-events/secrets/<name>."""
    template = obj["spec"].get("template") or {}
    own_volumes = [{"name": "tmp", "emptyDir": {}}, {"name": "auth-volume", "secret": {"secretName": "eventbus-auth"}}]
    own_mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "auth-volume", "mountPath": "/etc/eventbus/auth"}]
    for secret in sorted(set(_secret_names(obj["spec"]))):
        own_volumes.append({"name": f"secret-{secret}".replace("_", "-"), "secret": {"secretName": secret}})
        own_mounts.append({"name": f"secret-{secret}", "mountPath": f"/argo-events/secrets/{secret}", "readOnly": True})
    container = {
        "name": "main",
        "image": "quay.io/argoproj/argo-events:v1.9.10",
        "args": [f"{obj['kind'].lower()}-service"],
        **{k: v for k, v in (template.get("container") or {}).items() if k != "volumeMounts"},
        "volumeMounts": list((template.get("container") or {}).get("volumeMounts", []))
        + sorted(own_mounts, key=lambda m: m["name"]),
    }
    spec = {k: template[k] for k in ("serviceAccountName", "securityContext", "nodeSelector") if k in template}
    spec["containers"] = [container]
    spec["volumes"] = list(template.get("volumes", [])) + sorted(own_volumes, key=lambda v: v["name"])
    return spec


def _deployment(pod_spec: dict) -> dict:
    labels = {"controller": "test"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "generated", "namespace": "scanboard"},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
    }


def _duplicates(values: list[str]) -> set[str]:
    return {v for v in values if values.count(v) > 1}


def pod_spec_problems(spec: dict) -> list[str]:
    """What the API server rejects that a schema cannot see: duplicate volume names, duplicate mount paths, a
    mount of a volume that does not exist."""
    names = [v["name"] for v in spec.get("volumes", [])]
    problems = [f"duplicate volume name {n!r}" for n in sorted(_duplicates(names))]
    for c in spec["containers"]:
        mounts = c.get("volumeMounts", [])
        problems += [
            f"{c['name']}: duplicate mountPath {p!r}" for p in sorted(_duplicates([m["mountPath"] for m in mounts]))
        ]
        problems += [f"{c['name']}: mounts unknown volume {m['name']!r}" for m in mounts if m["name"] not in names]
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("kind", ["EventSource", "Sensor"])
def test_the_deployment_argo_events_generates_is_valid(rendered, overlay, kind):
    obj = _one(rendered[overlay], kind, "scan-requests")
    spec = controller_pod_spec(obj)
    assert pod_spec_problems(spec) == []
    kubernetes_validate.validate(_deployment(spec), KUBERNETES_VERSION, strict=True)
    container = spec["containers"][0]
    # The root filesystem stays read-only: the controller's tmp emptyDir is the writable /tmp.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_a_template_tmp_volume_would_be_rejected(rendered):
    """Defect 1, as the controller met it: the template's own `tmp` at /tmp next to the controller's."""
    source = copy.deepcopy(_one(rendered["prod"], "EventSource", "scan-requests"))
    source["spec"]["template"]["volumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    source["spec"]["template"]["container"]["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    problems = pod_spec_problems(controller_pod_spec(source))
    assert "duplicate volume name 'tmp'" in problems and "main: duplicate mountPath '/tmp'" in problems


def test_the_webhook_token_secret_is_mounted_by_the_controller(rendered):
    spec = controller_pod_spec(_one(rendered["prod"], "EventSource", "scan-requests"))
    assert {"name": "secret-scanboard-webhook", "secret": {"secretName": "scanboard-webhook"}} in spec["volumes"]


# ---------------------------------------------------------------- what the portal's follow-up relies on


def test_the_sensors_workflow_carries_the_label_the_portal_lists_by(rendered):
    key, _, value = SCAN_WORKFLOW_SELECTOR.partition("=")
    workflow = _embedded_workflow(_one(rendered["prod"], "Sensor", "scan-requests"))
    assert workflow["metadata"]["labels"][key] == value


def test_finished_workflows_outlive_the_portals_follow_up(rendered):
    """The portal records a finished Workflow within one sync interval; the TTL keeps it for a day or more, so
    only a portal down that long meets a gone Workflow (then findings.json finishes the scan)."""
    ttl = _one(rendered["prod"], "WorkflowTemplate", "scanboard-scan")["spec"]["ttlStrategy"]
    settings = Settings()
    assert min(ttl["secondsAfterSuccess"], ttl["secondsAfterFailure"]) >= 86400
    assert settings.argo_sync_seconds * 1000 < ttl["secondsAfterSuccess"]
