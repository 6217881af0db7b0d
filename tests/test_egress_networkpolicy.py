"""The workflow pods' egress NetworkPolicy, the second wall behind the scope policy: rendered by `kubectl
kustomize` in every overlay, valid against the Kubernetes schema, selecting the pods the WorkflowTemplate makes,
and — evaluated with NetworkPolicy's own rules (a connection is allowed when some rule's ports and some peer's
ipBlock, minus its excepts, match) — open to DNS, the public internet, S3/STS and the API server on 443, closed
to the VPC, the pod and service CIDRs (terraform's values) and every metadata address lib/core/scope.py knows."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lib.core.scope import METADATA_ADDRESSES

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33.0"


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render the manifests (apt: kubectl)"
    proc = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s/overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module", params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return _render(request.param)


def _policy(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [policy] = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "scanboard-scan-egress"]
    return policy


def _terraform() -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]:
    variables = (ROOT / "terraform/variables.tf").read_text()
    vpc = re.search(r'variable "vpc_cidr" \{.*?default\s*=\s*"([^"]+)"', variables, re.S)
    service = re.search(r'service_cidr\s*=\s*"([^"]+)"', (ROOT / "terraform/locals.tf").read_text())
    assert vpc and service
    return ipaddress.IPv4Network(vpc.group(1)), ipaddress.IPv4Network(service.group(1))


def allows(policy: dict[str, Any], ip: str, port: int, protocol: str = "TCP") -> bool:
    """Does the policy let a selected pod connect to ip:port? (ipBlock peers only: `ip` is not a pod.)"""
    addr = ipaddress.ip_address(ip)
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports")
        if ports and not any(p.get("protocol", "TCP") == protocol and p.get("port") == port for p in ports):
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            inside = bool(block) and addr in ipaddress.ip_network(block["cidr"])
            if inside and not any(addr in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


def test_policy_is_valid_and_selects_the_workflow_pods(docs: list[dict[str, Any]]) -> None:
    policy = _policy(docs)
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"} and not policy["spec"].get("ingress")
    [template] = [d for d in docs if d["kind"] == "WorkflowTemplate"]
    pod_labels = template["spec"]["podMetadata"]["labels"]
    assert policy["metadata"]["namespace"] == template["metadata"]["namespace"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()


def test_dns_goes_to_kube_dns_only(docs: list[dict[str, Any]]) -> None:
    policy = _policy(docs)
    [dns] = [r for r in policy["spec"]["egress"] if any(p.get("port") == 53 for p in r.get("ports", []))]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert not allows(policy, "10.0.0.2", 53, "UDP")  # the VPC resolver is reached through kube-dns only


@pytest.mark.parametrize(
    "ip,port",
    [
        ("93.184.215.14", 80),  # a scan target
        ("93.184.215.14", 8443),
        ("93.184.215.14", 22),
        ("52.216.8.1", 443),  # S3
        ("54.239.0.1", 443),  # STS
        ("142.250.0.1", 587),  # SMTP submission
        ("2606:2800:220:1::1", 443),
    ],
)
def test_the_public_internet_is_open(docs: list[dict[str, Any]], ip: str, port: int) -> None:
    assert allows(_policy(docs), ip, port)


def test_the_api_server_is_open_on_443_only(docs: list[dict[str, Any]]) -> None:
    policy = _policy(docs)
    vpc, service = _terraform()
    cluster_ip = str(service.network_address + 1)
    control_plane = list(vpc.subnets(new_prefix=24))[52:55]  # cidrsubnet(vpc_cidr, 8, 52 + i)
    for ip in [cluster_ip, *(str(n.network_address + 10) for n in control_plane)]:
        assert allows(policy, ip, 443), ip
        assert not allows(policy, ip, 80) and not allows(policy, ip, 10250), ip


def test_the_vpc_pods_services_and_metadata_are_closed(docs: list[dict[str, Any]]) -> None:
    policy = _policy(docs)
    vpc, service = _terraform()
    nodes_and_pods = list(vpc.subnets(new_prefix=20))[:3]  # the private subnets (cidrsubnet(vpc, 4, i))
    closed = [
        *(str(n.network_address + 77) for n in nodes_and_pods),
        str(service.network_address + 1234),
        str(vpc.network_address + 2),  # the VPC's own resolver
        *(str(a) for a in METADATA_ADDRESSES),
        "127.0.0.1",
        "192.168.1.1",
        "172.16.5.5",
        "100.64.1.1",
        "192.0.0.8",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "fe80::1",
        "fd00::1",
        "fec0::1",
    ]
    for ip in closed:
        for port in (22, 80, 443, 5432, 8501, 10250, 12000):
            assert not allows(policy, ip, port), f"{ip}:{port}"
