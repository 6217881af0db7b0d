"""The API in the cluster: its Deployment from the portal's image runs the app factory the code has, its
probes hit a route the app serves, and the Ingress sends /api/ (and only that) to it in both overlays."""

from __future__ import annotations

import pytest

from api.app import create_app
from tests.test_k8s_manifests import OVERLAYS, _one, _render


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict]]:
    return {o: _render(f"overlays/{o}") for o in OVERLAYS}


def _container(deploy: dict) -> dict:
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_deployment_runs_the_app_from_the_portals_image(overlays, overlay) -> None:
    docs = overlays[overlay]
    api, portal = _one(docs, "Deployment", "scanboard-api"), _one(docs, "Deployment", "scanboard-portal")
    c = _container(api)
    assert c["image"] == _container(portal)["image"]
    assert c["command"] == ["uvicorn", "api.app:create_app", "--factory"] and "--port=8502" in c["args"]
    assert [p["containerPort"] for p in c["ports"]] == [8502]
    routes = set(create_app().openapi()["paths"])
    assert c["readinessProbe"]["httpGet"]["path"] in routes and c["livenessProbe"]["httpGet"]["path"] in routes
    pod = api["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == portal["spec"]["template"]["spec"]["serviceAccountName"]
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["allowPrivilegeEscalation"] is False
    assert {e["name"] for e in c["env"]} >= {"DATABASE_URL", "SCANBOARD_SECRET_KEY", "ARGO_WEBHOOK_TOKEN"}
    service = _one(docs, "Service", "scanboard-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert service["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] in routes


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_api_prefix_to_the_api_first(overlays, overlay) -> None:
    docs = overlays[overlay]
    ingress = _one(docs, "Ingress", "scanboard-portal")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in paths}
    assert routes == {"/": "scanboard-portal", "/api/": "scanboard-api"}
    if ingress["spec"]["ingressClassName"] == "alb":  # rules in order: /api/ must come before the catch-all
        assert paths[0]["path"] == "/api/"
    port = next(p for p in paths if p["path"] == "/api/")["backend"]["service"]["port"]
    assert port == {"name": "http"}
    assert [p["name"] for p in _one(docs, "Service", "scanboard-api")["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_network_policy_admits_only_the_ingress_and_reaches_the_webhook(overlays, overlay) -> None:
    docs = overlays[overlay]
    policy = _one(docs, "NetworkPolicy", "scanboard-api")
    (rule,) = policy["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [8502]
    (peer,) = rule["from"]
    if _one(docs, "Ingress", "scanboard-portal")["spec"]["ingressClassName"] == "nginx":
        assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    else:
        assert set(peer) == {"ipBlock"} and peer["ipBlock"]["cidr"] != "0.0.0.0/0"
    for r in policy["spec"]["egress"]:
        for to in r["to"]:
            if to.get("ipBlock", {}).get("cidr") == "0.0.0.0/0":
                assert "169.254.0.0/16" in to["ipBlock"]["except"], "the metadata service stays closed"
    webhook = _one(docs, "NetworkPolicy", "scan-requests-eventsource-from-api")["spec"]["ingress"][0]
    assert webhook["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "scanboard-api"}}}]
    assert 12000 in {p["port"] for r in policy["spec"]["egress"] for p in r.get("ports", [])}
