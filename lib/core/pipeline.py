"""The scan pipeline, defined once for both engines.

The embedded engine runs these steps itself; the WorkflowTemplate in k8s/ expresses the same DAG and a
test holds the two equal (task names, dependencies, parameters). Everything here is pure data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SCANNERS: tuple[str, ...] = ("portscan", "web", "tls")
SCANNER_LABELS: dict[str, str] = {"portscan": "Port scan", "web": "Web baseline", "tls": "TLS"}


@dataclass(frozen=True)
class StepSpec:
    """One node of the pipeline DAG."""

    name: str
    kind: str  # "scanner" | "report" | "publish" | "notify"
    depends: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # the scanner options this step reads (workflow parameters)


STEPS: tuple[StepSpec, ...] = (
    StepSpec("portscan", "scanner", (), ("ports", "service_version", "tls_ciphers")),
    StepSpec("web", "scanner", (), ("path", "depth")),
    StepSpec("tls", "scanner", (), ("port",)),
    StepSpec("report", "report", SCANNERS),
    StepSpec("publish", "publish", ("report",)),
    StepSpec("notify", "notify", ("publish",)),
)
STEP_NAMES: tuple[str, ...] = tuple(s.name for s in STEPS)

# Defaults and bounds of every scanner option; validation and the WorkflowTemplate's defaults come from here.
OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    # service_version: nmap -sV and the http-headers script (safe); tls_ciphers: ssl-enum-ciphers, opt-in on
    # its own because nmap classes it intrusive. Switches are kept as "true"/"false", as the workflow passes them.
    "portscan": {"ports": "1-1024", "service_version": "false", "tls_ciphers": "false"},
    "web": {"path": "/", "depth": 1},
    "tls": {"port": 0},  # 0 = the URL's port for https, else 443
}
MAX_WEB_DEPTH = 3
MAX_PORTS = 65535


@dataclass(frozen=True)
class PlannedStep:
    spec: StepSpec
    enabled: bool  # False: a scanner that was not requested (shown as skipped)


def step_spec(name: str) -> StepSpec:
    return next(s for s in STEPS if s.name == name)


def plan(requested: dict[str, dict[str, Any]]) -> list[PlannedStep]:
    """The steps of one scan in a valid execution order; unrequested scanners are planned as disabled."""
    return [PlannedStep(s, s.kind != "scanner" or s.name in requested) for s in STEPS]


def ready_steps(states: dict[str, str]) -> list[str]:
    """Steps whose dependencies are all finished (succeeded, failed or skipped) and that are still pending.

    A failed scanner does not block the report: the report says what ran and what did not. A failed report,
    publish or notify step does block what follows it.
    """
    finished = {"succeeded", "failed", "skipped"}
    out = []
    for spec in STEPS:
        if states.get(spec.name) != "pending":
            continue
        deps_ok = True
        for dep in spec.depends:
            dep_state = states.get(dep)
            if dep_state not in finished or (dep_state == "failed" and step_spec(dep).kind != "scanner"):
                deps_ok = False
        if deps_ok:
            out.append(spec.name)
    return out


def blocked_steps(states: dict[str, str]) -> list[str]:
    """Pending steps that can never run because a non-scanner dependency failed (transitively)."""
    blocked: set[str] = set()
    for spec in STEPS:
        for dep in spec.depends:
            bad = states.get(dep) == "failed" and step_spec(dep).kind != "scanner"
            if (bad or dep in blocked) and states.get(spec.name) == "pending":
                blocked.add(spec.name)
    return [s for s in STEP_NAMES if s in blocked]


def workflow_parameters(scan_id: str, target: str, email: str, scanners: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The Argo WorkflowTemplate's parameters for one scan: all strings, one per scanner switch and option."""
    params = {"scan-id": scan_id, "target": target, "email": email}
    for name in SCANNERS:
        params[f"{name}-enabled"] = "true" if name in scanners else "false"
        opts = {**OPTION_DEFAULTS[name], **scanners.get(name, {})}
        for opt in step_spec(name).options:
            params[f"{name}-{opt}"] = str(opts[opt])
    return params


WEBHOOK_MAX_PAYLOAD_BYTES = 65_536  # the EventSource's maxPayloadSize (k8s/base/events/eventsource.yaml)


@dataclass(frozen=True)
class WebhookPayload:
    """What the portal POSTs to the Argo Events webhook; the Sensor maps `body.parameters.*`."""

    scan_id: str
    parameters: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"scan_id": self.scan_id, "workflow_name": f"scan-{self.scan_id}", "parameters": self.parameters}

    def encoded(self) -> bytes:
        """The body as POSTed: what the EventSource's size limit applies to."""
        return json.dumps(self.as_json()).encode()
