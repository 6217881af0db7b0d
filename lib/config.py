"""All configuration, read once from the environment (and `.env` if present) into one immutable object.

Every variable, its default and meaning is listed in the README's configuration table. Secrets are SecretStr so
they never show up in a repr or a log line.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lib.core.limit_rules import Limits
from lib.core.ownership_rules import required as ownership_required
from lib.core.roles import RolePolicy
from lib.core.scope import ScopePolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Mode: the embedded engine on this machine, or Argo Workflows on Kubernetes.
    scanboard_mode: Literal["embedded", "argo"] = "embedded"
    scanboard_data_dir: Path = Path("data")
    database_url: SecretStr | None = None  # it carries the password; default: a SQLite file in the data dir
    public_base_url: str = "http://127.0.0.1:8501"

    # Confirmation tokens (HS256). Embedded default: a secret generated once and kept in the data dir.
    scanboard_secret_key: SecretStr | None = None
    token_ttl_hours: float = Field(24.0, gt=0, le=24 * 7)

    # Mail. No SMTP_HOST: messages go to the outbox the UI shows.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_ca_file: str = ""  # a CA bundle to trust for the SMTP server's certificate (default: the system's)
    mail_from: str = "scanboard@localhost.localdomain"
    retry_seconds: float = Field(30.0, gt=0)  # first delay for mail / webhook retries, doubled up to 10 minutes

    # Notifications: generic webhooks are signed with this (embedded default: generated into the data dir).
    notify_signing_secret: SecretStr | None = None
    notify_timeout_seconds: float = Field(10.0, gt=0, le=60)

    # Embedded engine.
    scan_workers: int = Field(2, ge=1, le=32)
    scanner_timeout_seconds: float = Field(300.0, gt=0)
    stale_scan_seconds: float = Field(60.0, gt=0)  # a running scan with no heartbeat this long is resumed

    # Cluster page sampler: one per process; also how often the shared Kubernetes snapshot is refreshed.
    sample_seconds: float = Field(15.0, gt=0)
    sample_retention_hours: float = Field(7 * 24.0, gt=0)
    # Replicas: a background duty's leader renews its lease every pass; another replica takes over this long
    # after the leader stopped renewing (a clean stop hands over at once).
    leader_lease_seconds: float = Field(15.0, gt=0)

    # Scope policy. Loopback/private targets: allowed by default in embedded mode, denied in argo mode.
    scope_allow_loopback: bool | None = None
    scope_allow_private: bool | None = None
    scope_deny_cidrs: str = ""  # comma-separated, e.g. the cluster's pod and service CIDRs
    scope_allow_cidrs: str = ""
    scope_allow_domains: str = ""  # comma-separated; empty: any domain not denied
    scope_deny_domains: str = ""

    # Abuse limits, per requester email and per client address.
    limit_requests_per_hour: int = Field(20, ge=1)
    limit_unconfirmed: int = Field(5, ge=1)
    limit_running: int = Field(3, ge=1)
    limit_plus_tag_domains: str = ""  # comma-separated mail domains where a+tag@d counts as a@d; "*": all
    # Proxies in front of the portal that append to X-Forwarded-For (the ALB: 1); 0 trusts no header.
    trusted_proxy_hops: int = Field(0, ge=0, le=10)

    # Ownership proof (well-known file or DNS TXT) before a scan starts: auto = in argo mode for domains
    # not on SCOPE_ALLOW_DOMAINS.
    ownership_proof: Literal["auto", "on", "off"] = "auto"
    ownership_check_seconds: float = Field(60.0, gt=0)

    # Sign-in: none (one local user) or oidc (st.login; the provider is configured in .streamlit/secrets.toml).
    scanboard_auth: Literal["none", "oidc"] = "none"
    role_managers: str = ""  # comma-separated emails or @domains
    role_operators: str = ""
    role_analysts: str = ""  # empty: everyone who signs in
    role_claim: str = "roles"  # OIDC claim with role names (analyst, manager, operator)

    # Cluster mode.
    argo_webhook_url: str = ""
    argo_webhook_token: SecretStr | None = None
    # A delivered scan whose Workflow does not exist this long after the webhook accepted it is delivered again
    # (the Workflow name scan-<id> keeps that idempotent), and failed after argo_deliveries deliveries.
    argo_appear_seconds: float = Field(120.0, gt=0)
    argo_sync_seconds: float = Field(2.0, ge=0)  # one list of the scan Workflows per this interval, shared
    argo_deliveries: int = Field(3, ge=1, le=20)
    k8s_namespace: str = "scanboard"
    kubeconfig: str = ""  # empty: in-cluster config in a pod, else the default kubeconfig (~/.kube/config)
    kubernetes_service_host: str = ""  # set by Kubernetes in every pod: there, no KUBECONFIG means in-cluster
    reports_bucket: str = ""
    aws_region: str = "us-east-1"
    s3_endpoint_url: str = ""
    presign_expiry_seconds: int = Field(7 * 24 * 3600, gt=0, le=7 * 24 * 3600)

    @property
    def data_dir(self) -> Path:
        return self.scanboard_data_dir

    @property
    def db_url(self) -> str:
        """The URL to connect with (password included: hand it to the engine, never to a log)."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        return url or f"sqlite:///{(self.data_dir / 'scanboard.db').resolve()}"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def kube_in_cluster(self) -> bool:
        """Connect with the pod's ServiceAccount: in a pod and no kubeconfig named."""
        return not self.kubeconfig and bool(self.kubernetes_service_host)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    def scope_policy(self) -> ScopePolicy:
        embedded = self.scanboard_mode == "embedded"

        def pick(value: bool | None) -> bool:
            return embedded if value is None else value

        return ScopePolicy(
            allow_loopback=pick(self.scope_allow_loopback),
            allow_private=pick(self.scope_allow_private),
            deny_cidrs=_items(self.scope_deny_cidrs),
            allow_cidrs=_items(self.scope_allow_cidrs),
            allow_domains=_items(self.scope_allow_domains),
            deny_domains=_items(self.scope_deny_domains),
        )

    def role_policy(self) -> RolePolicy:
        return RolePolicy(
            _items(self.role_managers), _items(self.role_operators), _items(self.role_analysts), self.role_claim
        )

    def limits(self) -> Limits:
        return Limits(
            self.limit_requests_per_hour,
            self.limit_unconfirmed,
            self.limit_running,
            _items(self.limit_plus_tag_domains),
        )

    def ownership_required(self, host: str) -> bool:
        return ownership_required(host, self.scanboard_mode, self.ownership_proof, self.scope_policy().allow_domains)

    def token_secret(self) -> str:
        """The JWT secret: from the environment, or (embedded only) generated once into the data dir."""
        if self.scanboard_secret_key is not None:
            return self.scanboard_secret_key.get_secret_value()
        if self.scanboard_mode != "embedded":
            raise RuntimeError("SCANBOARD_SECRET_KEY must be set in argo mode")
        return _secret_file((self.data_dir / "secret.key").resolve())

    def signing_secret(self) -> str:
        """The generic webhooks' HMAC key: from the environment, or (embedded only) generated once."""
        if self.notify_signing_secret is not None:
            return self.notify_signing_secret.get_secret_value()
        if self.scanboard_mode != "embedded":
            raise RuntimeError("NOTIFY_SIGNING_SECRET must be set in argo mode")
        return _secret_file((self.data_dir / "notify.key").resolve())


@functools.cache
def _secret_file(path: Path) -> str:
    """The secret kept in `path`, created once (written aside, then linked: processes and threads starting at
    once agree on one secret). Cached: it never changes while the app runs."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret.")
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def _items(csv: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in csv.split(",") if x.strip())


class ConfigError(ValueError):
    """A configuration the app cannot start with; the message names each variable and what it must be."""


SECRET_WORDS = ("secret", "token", "password", "key")  # their values are never echoed in a message


def load_settings() -> Settings:
    """The settings, or a ConfigError listing every bad variable (the entry points print it, not a traceback)."""
    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError(config_problems(e)) from None


def config_problems(error: ValidationError) -> str:
    """One line per bad variable: its name, the value given (unless a secret) and pydantic's reason."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]).upper() if problem["loc"] else "configuration"
        given = "" if any(w in name.lower() for w in SECRET_WORDS) else f"={problem.get('input')!r}"
        lines.append(f"  {name}{given}: {problem['msg']}")
    return "scanboard cannot start, the configuration is invalid:\n" + "\n".join(lines)
