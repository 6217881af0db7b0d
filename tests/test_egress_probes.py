"""Named probes of the scope policy in cluster (argo) mode, as an attacker would try to reach the loopback
interface, the cluster's networks or a cloud metadata service: legacy IPv4 spellings, IPv6 forms, 6to4 /
Teredo / NAT64 embeddings, userinfo tricks, unicode dots, trailing dots, encodings and control characters,
other schemes, and names whose DNS answers are internal (the attacker runs that DNS). Not one is accepted.
The families are tabled in README.md, "Safe to expose"."""

from __future__ import annotations

import pytest

from lib.config import Settings
from lib.core.scope import ScopeError, ScopePolicy, check_url

# names the attacker's DNS answers with an internal address; any other name answers loopback
HOSTILE_DNS = {
    "metadata.google.internal": ["169.254.169.254"],
    "instance-data.ec2.internal": ["169.254.169.254"],
    "kubernetes.default.svc.cluster.local": ["10.96.0.1"],
    "db.internal.example": ["10.0.12.7"],
    "mixed.example": ["93.184.215.14", "10.0.0.5"],
    "v6meta.example": ["fd00:ec2::254"],
    "aliyun.example": ["100.100.100.200"],
    "azure.example": ["168.63.129.16"],
    "sitelocal.example": ["fec0::1"],
    "teredo.example": ["2001:0:4136:e378:8000:63bf:80ff:fffe"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example": ["2002:a9fe:a9fe::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "cgnat.example": ["100.64.3.4"],
    "ietf.example": ["192.0.0.170"],
    "zero.example": ["0.0.0.0"],
    "garbage.example": ["not-an-address"],
    "empty.example": [],
}


def hostile_resolver(host: str) -> list[str]:
    return HOSTILE_DNS.get(host, ["127.0.0.1"])


PROBES: dict[str, list[tuple[str, str]]] = {
    "legacy IPv4 spellings": [
        ("decimal loopback", "http://2130706433/"),
        ("hex loopback", "http://0x7f000001/"),
        ("octal loopback", "http://0177.0.0.1/"),
        ("short loopback", "http://127.1/"),
        ("three-part loopback", "http://127.0.1/"),
        ("hex first octet", "http://0x7f.0.0.1/"),
        ("hex short", "http://0x7f.1/"),
        ("long octal", "http://017700000001/"),
        ("padded octal", "http://00000127.0.0.1/"),
        ("zero-padded octets", "http://127.000.000.001/"),
        ("octal metadata", "http://0251.0376.0251.0376/"),
        ("hex metadata", "http://0xa9fea9fe/"),
        ("decimal metadata", "http://2852039166/"),
        ("two-part metadata", "http://169.254.43518/"),
        ("upper-case hex octets", "http://0XA9.0XFE.0XA9.0XFE/"),
        ("short private", "http://10.1/"),
        ("hex private", "http://0xa.0.0.1/"),
        ("octal private", "http://012.0.0.1/"),
        ("decimal private", "http://167772161/"),
        ("decimal 192.168", "http://3232235521/"),
        ("octal 192.168", "http://0300.0250.0.1/"),
        ("bare zero", "http://0/"),
        ("hex zero", "http://0x0/"),
        ("five parts", "http://127.0.0.0.1/"),
        ("octet over 255", "http://127.0.0.256/"),
    ],
    "IPv4 addresses": [
        ("loopback", "http://127.0.0.1/"),
        ("loopback elsewhere in 127/8", "http://127.10.20.30:8080/"),
        ("unspecified", "http://0.0.0.0/"),
        ("private 10/8", "http://10.0.0.1/"),
        ("private 172.16/12", "http://172.16.0.1/"),
        ("private 192.168/16", "http://192.168.1.1/"),
        ("carrier-grade NAT", "http://100.64.0.1/"),
        ("IETF protocol assignments", "http://192.0.0.8/"),
        ("benchmarking", "http://198.18.0.1/"),
        ("reserved 240/4", "http://240.0.0.1/"),
        ("broadcast", "http://255.255.255.255/"),
        ("multicast", "http://224.0.0.1/"),
        ("link-local", "http://169.254.1.1/"),
    ],
    "cloud metadata": [
        ("AWS/GCP/Azure IMDS", "http://169.254.169.254/latest/meta-data/"),
        ("AWS IMDS over IPv6", "http://[fd00:ec2::254]/"),
        ("AWS ECS task metadata", "http://169.254.170.2/v2/credentials"),
        ("Azure wire server", "http://168.63.129.16/"),
        ("Alibaba Cloud", "http://100.100.100.200/latest/meta-data/"),
        ("Oracle Cloud legacy", "http://192.0.0.192/"),
        ("IMDS on another port", "http://169.254.169.254:8080/"),
        ("IMDS over https", "https://169.254.169.254/"),
    ],
    "IPv6 forms": [
        ("loopback", "http://[::1]/"),
        ("loopback in full", "http://[0:0:0:0:0:0:0:1]/"),
        ("loopback with leading zeros", "http://[0000::0001]/"),
        ("IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/"),
        ("IPv4-mapped loopback in hex", "http://[::ffff:7f00:1]/"),
        ("IPv4-mapped in full", "http://[0:0:0:0:0:ffff:127.0.0.1]/"),
        ("IPv4-compatible loopback", "http://[::127.0.0.1]/"),
        ("IPv4-mapped metadata", "http://[::ffff:169.254.169.254]/"),
        ("IPv4-mapped metadata in hex", "http://[::ffff:a9fe:a9fe]/"),
        ("IPv4-mapped private", "http://[::ffff:10.0.0.1]/"),
        ("IPv4-translated loopback", "http://[::ffff:0:127.0.0.1]/"),
        ("link-local", "http://[fe80::1]/"),
        ("link-local with zone id", "http://[fe80::1%25eth0]/"),
        ("unique local fc00", "http://[fc00::1]/"),
        ("unique local fd00", "http://[fd00::1]/"),
        ("site-local", "http://[fec0::1]/"),
        ("unspecified", "http://[::]/"),
        ("multicast", "http://[ff02::1]/"),
        ("discard prefix", "http://[100::1]/"),
        ("documentation prefix", "http://[2001:db8::1]/"),
        ("unbracketed", "http://::1/"),
        ("unclosed bracket", "http://[::1/"),
        ("port glued to bracket", "http://[::1]80/"),
    ],
    "6to4 / Teredo / NAT64 embeddings": [
        ("6to4 of loopback", "http://[2002:7f00:1::]/"),
        ("6to4 of metadata", "http://[2002:a9fe:a9fe::1]/"),
        ("6to4 of private", "http://[2002:a00:1::]/"),
        ("6to4 of CGNAT", "http://[2002:6440:1::]/"),
        ("Teredo with loopback client", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/"),
        ("Teredo with metadata client", "http://[2001:0:4136:e378:8000:63bf:5601:5601]/"),
        ("NAT64 of loopback", "http://[64:ff9b::7f00:1]/"),
        ("NAT64 of metadata", "http://[64:ff9b::a9fe:a9fe]/"),
        ("NAT64 of private, dotted", "http://[64:ff9b::10.0.0.1]/"),
        ("local-use NAT64 of metadata", "http://[64:ff9b:1::a9fe:a9fe]/"),
    ],
    "userinfo tricks": [
        ("name before @", "http://example.com@127.0.0.1/"),
        ("user and password", "http://user:pass@169.254.169.254/"),
        ("empty userinfo", "http://@127.0.0.1/"),
        ("empty user and password", "http://:@127.0.0.1/"),
        ("port-looking userinfo", "http://example.com:80@127.0.0.1/"),
        ("fragment before @", "http://127.0.0.1#@example.com/"),
        ("query before @", "http://169.254.169.254?@example.com/"),
        ("encoded @", "http://example.com%40127.0.0.1/"),
        ("two @", "http://a@b@127.0.0.1/"),
        ("backslash before @", "http://example.com\\@127.0.0.1/"),
    ],
    "unicode dots and look-alikes": [
        ("ideographic full stops", "http://127\u30020\u30020\u30021/"),
        ("full-width full stops", "http://127\uff0e0\uff0e0\uff0e1/"),
        ("half-width full stops", "http://127\uff610\uff610\uff611/"),
        ("metadata with ideographic stops", "http://169\u3002254\u3002169\u3002254/"),
        ("full-width digits", "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/"),
        ("circled digits", "http://\u2460\u2461\u2466.0.0.1/"),
        ("full-width localhost", "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/"),
        ("zero-width space in host", "http://127.0.0.1\u200b/"),
        ("soft hyphen in host", "http://local\u00adhost/"),
        ("right-to-left mark", "http://\u200f127.0.0.1/"),
    ],
    "trailing dots and empty labels": [
        ("loopback with a trailing dot", "http://127.0.0.1./"),
        ("localhost with a trailing dot", "http://localhost./"),
        ("metadata with a trailing dot", "http://169.254.169.254./"),
        ("metadata name with a trailing dot", "http://metadata.google.internal./"),
        ("two trailing dots", "http://localhost../"),
        ("leading dot", "http://.127.0.0.1/"),
        ("double dot", "http://127..0.0.1/"),
        ("lone dot", "http://./"),
    ],
    "encodings and control characters": [
        ("percent-encoded octets", "http://%31%32%37.0.0.1/"),
        ("one encoded digit", "http://127.0.0.%31/"),
        ("encoded dots", "http://127%2e0%2e0%2e1/"),
        ("encoded name", "http://%6c%6f%63%61%6c%68%6f%73%74/"),
        ("NUL then allowed suffix", "http://127.0.0.1%00.example.com/"),
        ("raw NUL", "http://victim.example\x00.allowed.example/"),
        ("tab in host", "http://127.0.0.1\t/"),
        ("CR LF in host", "http://127.0.0.1\r\n.example.com/"),
        ("CR LF in path", "http://127.0.0.1/\r\nHost: evil"),
        ("space in host", "http://127.0.0.1 .example.com/"),
        ("backslash host split", "http://169.254.169.254\\x.attacker.example/"),
        ("backslash as slash", "http:\\\\127.0.0.1/"),
        ("bad punycode", "http://xn--/"),
        ("punycode of a disallowed label", "http://xn--zz-zz/"),
        ("port zero", "http://127.0.0.1:0/"),
        ("port out of range", "http://127.0.0.1:65536/"),
        ("two ports", "http://127.0.0.1:80:80/"),
        ("signed port", "http://example.com:+80/"),
        ("over-long URL", "http://" + "a" * 2100 + ".example/"),
    ],
    "other schemes and shapes": [
        ("file", "file:///etc/passwd"),
        ("gopher", "gopher://127.0.0.1:6379/_FLUSHALL"),
        ("dict", "dict://127.0.0.1:11211/stats"),
        ("ftp", "ftp://127.0.0.1/"),
        ("javascript", "javascript:alert(1)"),
        ("websocket", "ws://127.0.0.1/"),
        ("scheme-relative", "//127.0.0.1/"),
        ("one slash", "http:/127.0.0.1/"),
        ("no host", "http:///etc/passwd"),
        ("upper-case scheme to loopback", "HTTP://127.0.0.1/"),
    ],
    "names with internal DNS answers": [
        ("localhost", "http://localhost/"),
        ("sub-domain of localhost", "http://a.localhost/"),
        ("a name answering loopback", "http://localtest.me/"),
        ("an address-in-name service", "http://127.0.0.1.nip.io/"),
        ("GCP metadata name", "http://metadata.google.internal/computeMetadata/v1/"),
        ("EC2 metadata name", "http://instance-data.ec2.internal/"),
        ("Kubernetes API service", "https://kubernetes.default.svc.cluster.local/"),
        ("internal database name", "http://db.internal.example:5432/"),
        ("one public and one private answer", "http://mixed.example/"),
        ("name answering IPv6 metadata", "http://v6meta.example/"),
        ("name answering Alibaba metadata", "http://aliyun.example/"),
        ("name answering Azure wire server", "http://azure.example/"),
        ("name answering site-local", "http://sitelocal.example/"),
        ("name answering Teredo loopback", "http://teredo.example/"),
        ("name answering NAT64 metadata", "http://nat64.example/"),
        ("name answering 6to4 metadata", "http://sixtofour.example/"),
        ("name answering IPv4-mapped loopback", "http://mapped.example/"),
        ("name answering CGNAT", "http://cgnat.example/"),
        ("name answering 192.0.0.0/24", "http://ietf.example/"),
        ("name answering 0.0.0.0", "http://zero.example/"),
        ("name answering garbage", "http://garbage.example/"),
        ("name answering nothing", "http://empty.example/"),
    ],
}
NAMED = [(family, name, url) for family, probes in PROBES.items() for name, url in probes]


@pytest.fixture(scope="module")
def cluster_policy() -> ScopePolicy:
    """The policy the portal and the worker pods use in argo mode, as the settings build it."""
    return Settings(scanboard_mode="argo", scope_deny_cidrs="10.0.0.0/8").scope_policy()


def test_there_are_over_a_hundred_probes() -> None:
    assert len(NAMED) >= 100 and len({(f, n) for f, n, _ in NAMED}) == len(NAMED)


@pytest.mark.parametrize("family,name,url", NAMED, ids=[f"{f}: {n}" for f, n, _ in NAMED])
def test_probe_is_refused_in_cluster_mode(cluster_policy: ScopePolicy, family: str, name: str, url: str) -> None:
    with pytest.raises(ScopeError) as refused:
        check_url(url, cluster_policy, hostile_resolver)
    message = str(refused.value)
    assert message and not any(c in message for c in "\r\n\x00")


def test_metadata_stays_refused_even_where_everything_else_is_allowed() -> None:
    everything = ScopePolicy(allow_loopback=True, allow_private=True, allow_cidrs=("0.0.0.0/0", "::/0"))
    for url in (
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://168.63.129.16/",
        "http://[2002:a9fe:a9fe::]/",
    ):
        with pytest.raises(ScopeError, match="metadata"):
            check_url(url, everything, hostile_resolver)


def test_a_public_target_is_still_accepted(cluster_policy: ScopePolicy) -> None:
    """Control: the policy is not refusing everything."""
    decision = check_url("https://Example.COM:8443/a", cluster_policy, lambda host: ["93.184.215.14"])
    assert (decision.url, decision.addresses) == ("https://example.com:8443/a", ("93.184.215.14",))


def test_every_family_is_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    safe = readme.split("## Safe to expose", 1)[1]
    for family in PROBES:
        assert family in safe, family
