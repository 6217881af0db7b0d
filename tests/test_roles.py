"""Sign-in and roles: pages per role, analysts see only their own scans, the confirm link works signed out."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from lib.core.roles import RolePolicy, Viewer, roles_for, visible_pages
from lib.services.intake import submit
from ui.runtime import get_runtime

APP = str(Path(__file__).resolve().parents[1] / "app.py")
POLICY = RolePolicy(managers=("@mgmt.example", "boss@corp.example"), operators=("ops@corp.example",))


def test_roles_from_lists_domains_and_claims() -> None:
    assert roles_for("ana@corp.example", {}, POLICY) == {"analyst"}
    assert roles_for("boss@corp.example", {}, POLICY) == {"analyst", "manager"}
    assert roles_for("lee@MGMT.example", {}, POLICY) == {"analyst", "manager"}
    assert roles_for("x@corp.example", {"roles": ["operator", "admin"]}, POLICY) == {"analyst", "operator"}
    only_listed = RolePolicy(analysts=("@corp.example",))
    assert roles_for("stranger@else.example", {}, only_listed) == frozenset()
    assert visible_pages(Viewer("o@x", frozenset({"operator"}), True)) == {"cluster"}


@pytest.fixture
def signed_app(make_settings, monkeypatch):
    settings = make_settings()
    for k, v in {
        "SCANBOARD_DATA_DIR": str(settings.data_dir),
        "PUBLIC_BASE_URL": "http://portal.test",
        "SCANBOARD_AUTH": "oidc",
        "ROLE_MANAGERS": "boss@corp.example",
        "ROLE_OPERATORS": "ops@corp.example",
    }.items():
        monkeypatch.setenv(k, v)
    get_runtime.clear()

    def make(user: dict) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        at.user = user
        at.secrets["auth"] = {
            "redirect_uri": "http://portal.test/oauth2callback",
            "cookie_secret": "x" * 32,
            "client_id": "scanboard",
            "client_secret": "y" * 32,
            "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
        }
        return at

    yield make
    get_runtime().stop()
    get_runtime.clear()


def title(at: AppTest) -> str:
    return at.title[0].value if at.title else ""


def reach(at: AppTest, page: str) -> str | None:
    """The title of the page after switching to it; None when the page is not in this viewer's navigation."""
    try:
        at.switch_page(page)
    except ValueError as e:
        assert "Could not find a navigation page" in str(e)
        return None
    at.run()
    assert not at.exception
    return title(at)


def test_signed_out_sees_only_sign_in_but_can_confirm(signed_app) -> None:
    at = signed_app({"is_logged_in": False}).run()
    assert not at.exception and at.button[0].label == "Sign in"
    assert reach(at, "views/history.py") is None
    rt = get_runtime()
    submit(rt, "http://127.0.0.1:9/", "ana@corp.example", {"web": {}})
    at.query_params["token"] = parse_qs(urlsplit(rt.mailer.messages()[0].link).query)["token"][0]
    at.switch_page("views/confirm.py").run()
    assert not at.exception and "the report link will be emailed" in at.success[0].value


def test_pages_follow_the_role(signed_app) -> None:
    analyst = signed_app({"is_logged_in": True, "email_verified": True, "email": "ana@corp.example"}).run()
    assert title(analyst) == "New scan" and analyst.text_input(key="email").value == "ana@corp.example"
    assert reach(analyst, "views/history.py") is None
    assert reach(analyst, "views/cluster.py") is None
    manager = signed_app({"is_logged_in": True, "email_verified": True, "email": "boss@corp.example"}).run()
    assert reach(manager, "views/history.py") == "History"
    operator = signed_app(
        {"is_logged_in": True, "email_verified": True, "email": "ops@corp.example", "roles": []}
    ).run()
    assert reach(operator, "views/cluster.py") == "Cluster"


def test_analysts_see_only_their_own_scans(signed_app) -> None:
    signed_app({"is_logged_in": False}).run()  # starts the runtime
    rt = get_runtime()
    theirs = submit(rt, "http://127.0.0.1:9/", "bob@corp.example", {"web": {}}).scan_id
    mine = submit(rt, "http://127.0.0.1:9/", "ana@corp.example", {"web": {}}).scan_id
    ana = signed_app({"is_logged_in": True, "email_verified": True, "email": "ana@corp.example"}).run()
    ana.query_params["scan"] = theirs
    ana.switch_page("views/progress.py").run()
    assert not ana.exception and "that you can see" in ana.error[0].value
    ana.query_params["scan"] = mine
    ana.switch_page("views/progress.py").run()
    assert not ana.exception and not ana.error
    boss = signed_app({"is_logged_in": True, "email_verified": True, "email": "boss@corp.example"}).run()
    boss.query_params["scan"] = theirs
    boss.switch_page("views/progress.py").run()
    assert not boss.exception and not boss.error


def everything_shown(at: AppTest) -> str:
    """All text the page put on screen (markdown, captions, alerts, select options, tables), for leak checks."""
    parts = [
        str(e.value) for kind in ("markdown", "caption", "error", "info", "warning", "success") for e in at.get(kind)
    ]
    parts += [str(o) for sb in at.selectbox for o in sb.options]
    parts += [df.value.to_csv() for df in at.dataframe]
    return re.sub(r"\\(.)", r"\1", "\n".join(parts))  # as shown: Markdown escapes removed


@pytest.mark.parametrize(
    "user",
    [
        {"is_logged_in": True},  # the provider sent no email claim at all
        {"is_logged_in": True, "email": ""},
        {"is_logged_in": True, "email": "ana@corp.example", "email_verified": False},
        {"is_logged_in": True, "email": "ana@corp.example"},  # no email_verified claim: not verified
    ],
)
def test_identity_without_a_verified_email_is_refused_and_sees_nothing(signed_app, user) -> None:
    signed_app({"is_logged_in": False}).run()
    rt = get_runtime()
    theirs = submit(rt, "http://127.0.0.1:9/", "bob@corp.example", {"web": {}}).scan_id
    at = signed_app(user).run()
    assert not at.exception
    assert "Sign-in refused" in at.error[0].value and "email" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    for page in ("views/progress.py", "views/reports.py", "views/outbox.py", "views/history.py"):
        assert reach(at, page) is None
    assert theirs not in everything_shown(at)


def test_outbox_shows_an_analyst_only_their_own_mail(signed_app) -> None:
    signed_app({"is_logged_in": False}).run()
    rt = get_runtime()
    bobs = submit(rt, "http://127.0.0.1:9/", "bob@corp.example", {"web": {}}).scan_id
    anas = submit(rt, "http://127.0.0.1:9/", "Ana@corp.example", {"web": {}}).scan_id
    bobs_link = next(m.link for m in rt.mailer.messages() if m.to_addr == "bob@corp.example")
    ana = signed_app({"is_logged_in": True, "email_verified": True, "email": "ana@corp.example"}).run()
    assert reach(ana, "views/outbox.py") == "Outbox"
    shown = everything_shown(ana)
    assert "Ana@corp.example" in shown
    assert "bob@corp.example" not in shown and token_of(bobs_link) not in shown
    boss = signed_app({"is_logged_in": True, "email_verified": True, "email": "boss@corp.example"}).run()
    assert reach(boss, "views/progress.py") == "Scan progress"  # managers pick from every scan
    assert {o.split(" · ")[0] for o in boss.selectbox[0].options} == {bobs, anas}
    assert reach(ana, "views/progress.py") == "Scan progress"
    assert [o.split(" · ")[0] for o in ana.selectbox[0].options] == [anas]


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_an_empty_email_filter_selects_no_scan(signed_app) -> None:
    from lib.adapters.repository import list_scans

    signed_app({"is_logged_in": False}).run()
    rt = get_runtime()
    submit(rt, "http://127.0.0.1:9/", "bob@corp.example", {"web": {}})
    assert list_scans(rt.sessions, email="") == []
    assert [s.requester_email for s in list_scans(rt.sessions, email="BOB@corp.example")] == ["bob@corp.example"]
    assert len(list_scans(rt.sessions)) == 1
