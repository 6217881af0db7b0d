"""Read-only Kubernetes access for the portal, through the official `kubernetes` client.

Why an adapter: pages need a handful of reads (the scan's Workflow, pods, nodes, events, one ConfigMap) with
timeouts, the namespace from the configuration, and one error type whose message a banner can show as is.
Results are plain dicts in the API's own JSON shape (camelCase, as `kubectl get -o json` prints them): custom
objects come that way anyway, and skipping the client's model deserialisation keeps 10,000 pods fast.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

ARGO_GROUP = "argoproj.io"
ARGO_VERSION = "v1alpha1"
WORKFLOWS = "workflows"
DEFAULT_NAMESPACE = "scanboard"  # where the scan Workflows run when the configuration names none
SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class KubeError(Exception):
    """Any failure to read from the Kubernetes API, with a message fit for a banner.

    `reason` is one of: unauthorized, forbidden, not_found, timeout, unreachable, config, api.
    `status` is the HTTP status when the API answered, else None.
    """

    def __init__(self, message: str, *, reason: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class KubeSettings:
    """Where and how to connect (lib.runtime fills it from the settings). `kubeconfig=None`: ~/.kube/config."""

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False  # the pod's ServiceAccount instead of a kubeconfig
    namespace: str | None = None  # None: the context's namespace, the pod's namespace, else DEFAULT_NAMESPACE
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0


def _api_message(e: ApiException) -> str:
    """The `message` of the Status object the API sent back, if any."""
    try:
        body = json.loads(e.body or b"{}")
        return str(body.get("message") or "").strip()
    except (ValueError, TypeError, AttributeError):
        return ""


def _translate(e: BaseException, what: str, server: str) -> KubeError:
    if isinstance(e, KubeError):
        return e
    if isinstance(e, ApiException) and e.status:
        detail = _api_message(e)
        if e.status == 401:
            return KubeError(
                f"The Kubernetes API at {server} rejected the portal's credentials (401 Unauthorized) while "
                f"reading {what}. The token may be expired or wrong.",
                reason="unauthorized",
                status=401,
            )
        if e.status == 403:
            return KubeError(
                f"The portal is not allowed to read {what} (403 Forbidden): {detail or e.reason}. "
                "Check the RBAC Role bound to its ServiceAccount.",
                reason="forbidden",
                status=403,
            )
        if e.status == 404:
            return KubeError(f"Not found: {what} ({detail or '404 Not Found'}).", reason="not_found", status=404)
        return KubeError(
            f"The Kubernetes API answered {e.status} {e.reason or ''} while reading {what}: {detail}".strip(),
            reason="api",
            status=e.status,
        )
    cause = e.reason if isinstance(e, urllib3.exceptions.MaxRetryError) and e.reason is not None else e
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first, a refusal is no timeout.
    if isinstance(cause, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)):
        return KubeError(
            f"Cannot reach the Kubernetes API at {server} while reading {what} (connection refused or host unknown).",
            reason="unreachable",
        )
    if isinstance(cause, (urllib3.exceptions.TimeoutError, TimeoutError)) or "timed out" in str(cause).lower():
        return KubeError(
            f"The Kubernetes API at {server} did not answer in time while reading {what}.", reason="timeout"
        )
    if isinstance(cause, (urllib3.exceptions.HTTPError, OSError)) or isinstance(e, ApiException):
        return KubeError(
            f"Lost the connection to the Kubernetes API at {server} while reading {what} ({type(cause).__name__}).",
            reason="unreachable",
        )
    return KubeError(f"Unexpected error while reading {what} from {server}: {type(e).__name__}: {e}", reason="api")


def _context_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError, TypeError):
        return None
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    return ((chosen or {}).get("context") or {}).get("namespace")


def connect(settings: KubeSettings | None = None) -> Kube:
    """Build a Kube from a kubeconfig file or the pod's in-cluster config. Raises KubeError(reason="config")."""
    s = settings or KubeSettings()
    cfg = client.Configuration()
    in_cluster = s.in_cluster
    namespace = s.namespace
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=cfg)
            if namespace is None and Path(SA_NAMESPACE_FILE).is_file():
                namespace = Path(SA_NAMESPACE_FILE).read_text().strip() or None
        else:
            config.load_kube_config(config_file=s.kubeconfig, context=s.context, client_configuration=cfg)
            if namespace is None:
                namespace = _context_namespace(s.kubeconfig, s.context)
    except (ConfigException, OSError, TypeError, ValueError) as e:
        where = "in-cluster service account" if in_cluster else (s.kubeconfig or "$KUBECONFIG / ~/.kube/config")
        raise KubeError(f"No usable Kubernetes configuration ({where}): {e}", reason="config") from e
    cfg.retries = 1  # fail fast when the API is gone; the page's next refresh retries
    return Kube(client.ApiClient(cfg), namespace or DEFAULT_NAMESPACE, timeout=(s.connect_timeout_s, s.read_timeout_s))


class SharedKube:
    """One client per process, connected on first use (thread-safe): the engine and the cluster snapshot share it.
    A failed connect is not kept, so the next use tries again."""

    def __init__(self, settings: KubeSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._kube: Kube | None = None

    def get(self) -> Kube:
        with self._lock:
            if self._kube is None:
                self._kube = connect(self.settings)
            return self._kube

    def close(self) -> None:
        with self._lock:
            if self._kube is not None:
                self._kube.close()
                self._kube = None


class Kube:
    """The reads the portal makes. Every method returns API-shaped dicts or raises KubeError."""

    def __init__(self, api_client: client.ApiClient, namespace: str, timeout: tuple[float, float] = (3.0, 10.0)):
        self.api_client = api_client
        self.namespace = namespace
        self.timeout = timeout
        self.server = api_client.configuration.host
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            try:
                return json.loads(resp.data)
            finally:
                resp.release_conn()
        except Exception as e:
            raise _translate(e, what, self.server) from e

    # -- Argo Workflows
    def get_workflow(self, name: str, namespace: str | None = None) -> dict:
        ns = namespace or self.namespace
        return self._call(
            f'Workflow "{name}" in namespace "{ns}"',
            self._custom.get_namespaced_custom_object,
            ARGO_GROUP,
            ARGO_VERSION,
            ns,
            WORKFLOWS,
            name,
        )

    def list_workflows(self, label_selector: str | None = None, namespace: str | None = None) -> list[dict]:
        ns = namespace or self.namespace
        return self._call(
            f'Workflows in namespace "{ns}"',
            self._custom.list_namespaced_custom_object,
            ARGO_GROUP,
            ARGO_VERSION,
            ns,
            WORKFLOWS,
            label_selector=label_selector,
        )["items"]

    def watch_workflow(
        self, name: str, timeout_s: int = 30, namespace: str | None = None
    ) -> Iterator[tuple[str, dict]]:
        """Yield (ADDED|MODIFIED|DELETED, workflow) for one Workflow until timeout_s; the current state comes first."""
        ns = namespace or self.namespace
        w = watch.Watch()
        what = f'Workflow "{name}" in namespace "{ns}" (watch)'
        try:
            for event in w.stream(
                self._custom.list_namespaced_custom_object,
                ARGO_GROUP,
                ARGO_VERSION,
                ns,
                WORKFLOWS,
                field_selector=f"metadata.name={name}",
                timeout_seconds=int(timeout_s),
                _request_timeout=(self.timeout[0], timeout_s + self.timeout[1]),
            ):
                yield event["type"], event["raw_object"]  # an ERROR event arrives as ApiException
        except Exception as e:
            raise _translate(e, what, self.server) from e
        finally:
            w.stop()

    # -- core objects
    def list_pods(
        self,
        label_selector: str | None = None,
        field_selector: str | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
    ) -> list[dict]:
        if all_namespaces:
            return self._call(
                "Pods in all namespaces",
                self._core.list_pod_for_all_namespaces,
                label_selector=label_selector,
                field_selector=field_selector,
            )["items"]
        ns = namespace or self.namespace
        return self._call(
            f'Pods in namespace "{ns}"',
            self._core.list_namespaced_pod,
            ns,
            label_selector=label_selector,
            field_selector=field_selector,
        )["items"]

    def list_nodes(self, label_selector: str | None = None) -> list[dict]:
        return self._call("Nodes", self._core.list_node, label_selector=label_selector)["items"]

    def list_events(
        self, field_selector: str | None = None, namespace: str | None = None, all_namespaces: bool = False
    ) -> list[dict]:
        if all_namespaces:
            return self._call(
                "Events in all namespaces", self._core.list_event_for_all_namespaces, field_selector=field_selector
            )["items"]
        ns = namespace or self.namespace
        return self._call(
            f'Events in namespace "{ns}"', self._core.list_namespaced_event, ns, field_selector=field_selector
        )["items"]

    def get_configmap(self, name: str, namespace: str | None = None) -> dict:
        ns = namespace or self.namespace
        return self._call(f'ConfigMap "{name}" in namespace "{ns}"', self._core.read_namespaced_config_map, name, ns)
