"""Notifications as a receiver sees them: the signed webhook (verified with the README's own snippet), exactly
one delivery through a receiver that fails then recovers, Slack and Teams payloads in their documented shapes,
rules refused for internal URLs in argo mode, and destinations never shown back or logged in full."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from slack_sdk.models.blocks import Block

from lib.adapters.models import MAIL_RETRYING, MAIL_SENT, SUCCEEDED, Delivery, FindingRecord, Scan, utcnow
from lib.adapters.notify import HttpSender
from lib.core.notifications import Change, ScanSummary, slack, teams
from lib.runtime import Runtime, build_runtime
from lib.services.notifications import add_rule, delete_rule, evaluate_finished, list_rules
from tests.notify_receiver import Receiver

FIXTURES = Path(__file__).parent / "fixtures" / "notifications"
README = Path(__file__).parent.parent / "README.md"
SECRET = "signing-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def rt(make_settings) -> Runtime:
    return build_runtime(make_settings(notify_signing_secret=SECRET))


def finished_scan(rt: Runtime, scan_id: str = "abc123abc123", status: str = SUCCEEDED) -> str:
    """A scan as the engine leaves it: finished, counted, one new high finding and one fixed one."""
    now = utcnow()
    with rt.sessions.begin() as s:
        s.add(
            Scan(
                id=scan_id,
                target="https://shop.example.com/",
                host="shop.example.com",
                requester_email="ana@example.com",
                scanners={"web": {}},
                status=status,
                status_reason="",
                created_at=now,
                confirmed_at=now,
                finished_at=now,
                severity_counts={"high": 1, "low": 2},
            )
        )
        s.flush()
        for state, sev, title in (
            ("new", "high", "Missing CSP"),
            ("fixed", "medium", "Old TLS"),
            ("unchanged", "low", "Banner"),
        ):
            s.add(
                FindingRecord(
                    scan_id=scan_id,
                    host="shop.example.com",
                    tool="t",
                    rule_id=title,
                    title=title,
                    severity=sev,
                    rule_fp=title,
                    issue_fp=title,
                    diff_state=state,
                    data={},
                )
            )
    return scan_id


def readme_verify():
    """The verification snippet exactly as the README shows it."""
    text = README.read_text()
    code = re.search(r"<!-- signature-snippet -->\n```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(code, scope)  # the documented snippet is what is under test
    return scope["verify"]


def test_generic_webhook_is_signed_and_the_readme_snippet_verifies_it(rt, receiver) -> None:
    assert add_rule(rt, "ana@example.com", "webhook", receiver.url + "/hook", "finished").ok
    scan_id = finished_scan(rt)
    [delivery_id] = evaluate_finished(rt, rt.notifier)
    [got] = receiver.received
    headers = {
        "X-Scanboard-Timestamp": got.headers["x-scanboard-timestamp"],
        "X-Scanboard-Signature": got.headers["x-scanboard-signature"],
    }
    verify = readme_verify()
    assert verify(SECRET, headers, got.body)
    assert not verify("another secret", headers, got.body)
    assert not verify(SECRET, headers, got.body.replace(b"shop", b"shoq"))  # a tampered body fails
    stale = {**headers, "X-Scanboard-Timestamp": str(int(headers["X-Scanboard-Timestamp"]) - 3600)}
    assert not verify(SECRET, stale, got.body)  # and so does a replayed old one
    data = json.loads(got.body)
    assert data["scan_id"] == scan_id and data["target"] == "https://shop.example.com/"
    assert data["counts"] == {"critical": 0, "high": 1, "medium": 0, "low": 2, "info": 0}
    assert data["new"] == [{"severity": "high", "title": "Missing CSP"}]
    assert data["fixed"] == [{"severity": "medium", "title": "Old TLS"}]
    assert data["links"]["report"] == f"http://portal.test/reports?scan={scan_id}"
    assert data["links"]["progress"] == f"http://portal.test/progress?scan={scan_id}"
    assert evaluate_finished(rt, rt.notifier) == [] and len(receiver.received) == 1  # each scan is looked at once
    with rt.sessions() as s:
        assert s.get(Delivery, delivery_id).status == MAIL_SENT


def test_a_receiver_that_fails_then_recovers_gets_exactly_one_delivery(rt, receiver, caplog) -> None:
    add_rule(rt, "ana@example.com", "slack", receiver.url + "/services/T0/B0/secretpart", "finished")
    finished_scan(rt)
    receiver.fail_next = 2
    now = utcnow()
    [delivery_id] = evaluate_finished(rt, rt.notifier, now)
    assert receiver.received == []
    [waiting] = rt.notifier.waiting()
    assert waiting.status == MAIL_RETRYING and "answered HTTP 503" in waiting.last_error
    assert "secretpart" not in waiting.last_error  # the URL is a credential: the host only
    assert rt.notifier.retry_due(now) == 0  # not due yet: backoff
    assert rt.notifier.retry_due(now + timedelta(seconds=1)) == 0  # second failure
    assert rt.notifier.retry_due(now + timedelta(minutes=20)) == 1
    assert rt.notifier.retry_due(now + timedelta(hours=2)) == 0
    assert len(receiver.received) == 1 and receiver.attempts == 3
    assert "not delivered" in caplog.text and "secretpart" not in caplog.text  # logged, without the credential
    with rt.sessions() as s:
        assert s.get(Delivery, delivery_id).attempts == 3


def test_rules_fire_only_for_their_event(rt, receiver) -> None:
    add_rule(rt, "ana@example.com", "webhook", receiver.url + "/failed", "failed")
    add_rule(rt, "ana@example.com", "webhook", receiver.url + "/critical", "new_findings", "critical")
    add_rule(rt, "ana@example.com", "webhook", receiver.url + "/medium", "new_findings", "medium")
    add_rule(rt, "ana@example.com", "webhook", receiver.url + "/fixed", "fixed")
    add_rule(rt, "bob@example.com", "webhook", receiver.url + "/bob", "finished")
    finished_scan(rt)
    evaluate_finished(rt, rt.notifier)
    assert sorted(r.path for r in receiver.received) == ["/fixed", "/medium"]


def test_email_channel_goes_through_the_mailer(rt) -> None:
    add_rule(rt, "ana@example.com", "email", "sec-team@example.com", "new_findings", "high")
    scan_id = finished_scan(rt)
    evaluate_finished(rt, rt.notifier)
    [mail] = [m for m in rt.mailer.messages() if m.kind == "notify"]
    assert mail.to_addr == "sec-team@example.com" and mail.scan_id == scan_id
    assert "1 high" in mail.body and "[high] Missing CSP" in mail.body and f"reports?scan={scan_id}" in mail.body


def test_email_rules_cannot_mail_findings_outside_the_owners_domain(rt) -> None:
    out = add_rule(rt, "ana@example.com", "email", "someone@elsewhere.org", "finished")
    assert not out.ok and "addresses at @example.com only" in out.errors["destination"]
    assert not add_rule(rt, "ana@example.com", "email", "x@example.com.elsewhere.org", "finished").ok
    assert list_rules(rt, "ana@example.com") == []
    finished_scan(rt)
    evaluate_finished(rt, rt.notifier)
    assert [m.to_addr for m in rt.mailer.messages() if m.kind == "notify"] == []


def test_internal_webhook_urls_are_refused_in_argo_mode(make_settings, receiver) -> None:
    rt = build_runtime(
        make_settings(scanboard_mode="argo", argo_webhook_url="http://127.0.0.1:9/", notify_signing_secret=SECRET)
    )
    for url in (
        receiver.url + "/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:80/",
        "ftp://example.com/",
    ):
        out = add_rule(rt, "ana@example.com", "webhook", url, "finished")
        assert not out.ok and "destination" in out.errors, url
    assert list_rules(rt) == []
    assert receiver.attempts == 0


def test_destinations_are_shown_back_masked(rt) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXXabcd"
    assert add_rule(rt, "ana@example.com", "slack", url, "finished", resolve=lambda host: ["93.184.215.14"]).ok
    [view] = list_rules(rt, "ana@example.com")
    assert "XXXXXXXX" not in view.destination and view.destination.startswith("https://hooks.slack.com/")
    assert "XXXX" not in repr(view)


def sample_summary() -> ScanSummary:
    return ScanSummary(
        scan_id="abc",
        target="https://shop.example.com/<!channel>",
        status="partial",
        reason="",
        counts={"high": 2},
        new=[Change("high", f"Finding {i}") for i in range(30)],
        fixed=[Change("low", "Old")],
        report_url="https://portal.example/reports?scan=abc",
        progress_url="https://portal.example/progress?scan=abc",
    )


def test_slack_payload_has_the_documented_shape() -> None:
    schema = json.loads((FIXTURES / "slack-message.schema.json").read_text())
    jsonschema.validate(json.loads((FIXTURES / "slack-incoming-webhook-example.json").read_text()), schema)
    msg = slack(sample_summary())
    jsonschema.validate(msg, schema)
    for block in msg["blocks"]:
        Block.parse(block).validate_json()  # Slack's SDK enforces the Block Kit limits
    marked_up = [msg["text"]] + [b["text"]["text"] for b in msg["blocks"] if b["text"]["type"] == "mrkdwn"]
    assert not any("<!channel>" in t for t in marked_up)  # a target name cannot ping a whole channel
    assert "2 high" in msg["text"] and "and 20 more" in msg["blocks"][1]["text"]["text"]


def test_teams_payload_is_an_adaptive_card_message() -> None:
    envelope = json.loads((FIXTURES / "teams-message-envelope.schema.json").read_text())
    card_schema = json.loads((FIXTURES / "adaptive-card-1.4.json").read_text())
    validator = jsonschema.Draft6Validator(card_schema)
    documented = json.loads((FIXTURES / "teams-webhook-message-example.json").read_text())
    for msg in (documented, teams(sample_summary())):
        jsonschema.validate(msg, envelope)
        for attachment in msg["attachments"]:
            validator.validate(attachment["content"])
    broken = teams(sample_summary())
    broken["attachments"][0]["content"]["body"][0]["type"] = "Textblock"
    assert not validator.is_valid(broken["attachments"][0]["content"])  # the schema does check
    card = teams(sample_summary())["attachments"][0]["content"]
    assert {a["url"] for a in card["actions"]} == {
        "https://portal.example/reports?scan=abc",
        "https://portal.example/progress?scan=abc",
    }


def test_deleting_a_rule_stops_its_notifications(rt, receiver) -> None:
    rule = add_rule(rt, "ana@example.com", "webhook", receiver.url + "/hook", "finished")
    assert delete_rule(rt, rule.rule_id) and not delete_rule(rt, rule.rule_id)
    finished_scan(rt)
    assert evaluate_finished(rt, rt.notifier) == [] and receiver.attempts == 0


def test_a_name_that_resolves_inside_by_sending_time_is_not_posted_to(make_settings, receiver) -> None:
    """DNS rebinding: the name looked public when the rule was made, and points at loopback when it is sent."""
    rt = build_runtime(
        make_settings(scanboard_mode="argo", argo_webhook_url="http://127.0.0.1:9/", notify_signing_secret=SECRET)
    )
    port = receiver.url.rsplit(":", 1)[1]
    url = f"http://localhost:{port}/hook"
    assert add_rule(rt, "ana@example.com", "webhook", url, "finished", resolve=lambda host: ["93.184.215.14"]).ok
    finished_scan(rt)
    evaluate_finished(rt, rt.notifier)
    [waiting] = rt.notifier.waiting()
    assert "refused by the scope policy" in waiting.last_error
    assert receiver.attempts == 0


def test_the_post_goes_to_the_address_that_was_vetted(make_settings, receiver) -> None:
    """The name is resolved once, by the scope check; the connection goes to that address (Host: the name),
    so a DNS server answering differently the second time cannot move the post elsewhere."""
    port = receiver.url.rsplit(":", 1)[1]
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])  # a rebinding resolver: vetted answer, then a decoy
    sender = HttpSender(lambda: SECRET, make_settings().scope_policy(), resolve=lambda host: next(answers))
    sender.send("webhook", f"http://hooks.rebind.test:{port}/hook", {"hello": "world"})
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.rebind.test:{port}" and json.loads(got.body) == {"hello": "world"}


def test_the_scan_allowlist_does_not_apply_to_notification_endpoints(make_settings) -> None:
    rt = build_runtime(
        make_settings(
            scanboard_mode="argo",
            argo_webhook_url="http://127.0.0.1:9/",
            notify_signing_secret=SECRET,
            scope_allow_domains="example.com",
        )
    )
    public = lambda host: ["93.184.215.14"]  # noqa: E731
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    assert add_rule(rt, "ana@example.com", "slack", url, "finished", resolve=public).ok
    assert not add_rule(rt, "ana@example.com", "slack", "https://10.0.0.8/x", "finished", resolve=public).ok
