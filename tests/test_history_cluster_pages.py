"""The history and cluster pages under Streamlit's AppTest with the app's real runtime: filters change the data and
live in the URL; the cluster page reads the Kubernetes API test server in argo mode and shows a banner (never a
traceback) when the API is gone."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.adapters.models import Scan, Step, utcnow
from tests.test_cluster import cluster  # noqa: F401 - the EKS-labelled cluster fixture
from ui.runtime import get_runtime

APP = Path(__file__).resolve().parents[1] / "app.py"


def start_app(monkeypatch, settings, **env: str) -> AppTest:
    for k, v in {
        "SCANBOARD_DATA_DIR": str(settings.data_dir),
        "PUBLIC_BASE_URL": "http://portal.test",
        "RETRY_SECONDS": "0.2",
        **env,
    }.items():
        monkeypatch.setenv(k, v)
    get_runtime.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=30)


@pytest.fixture
def app(make_settings, monkeypatch):
    at = start_app(monkeypatch, make_settings())
    yield at
    get_runtime().stop()
    get_runtime.clear()


@pytest.fixture
def argo_app(make_settings, monkeypatch, kubeconfig):
    at = start_app(
        monkeypatch,
        make_settings(),
        SCANBOARD_MODE="argo",
        KUBECONFIG=str(kubeconfig),
        SCANBOARD_SECRET_KEY="jwt-secret-for-tests-0123456789-abcdef",
        K8S_NAMESPACE="scanboard",
        SAMPLE_SECONDS="0.5",
        REPORTS_BUCKET="scanboard-test-reports",
    )
    yield at
    get_runtime().stop()
    get_runtime.clear()


def seed(sessions) -> None:
    now = utcnow() - timedelta(hours=2)
    rows = [
        ("aaaaaaaaaaa1", "a.example.com", "ana@example.com", "succeeded", {"web": {}}, {"high": 2}, True),
        ("aaaaaaaaaaa2", "shop.a.example.com", "bob@example.com", "partial", {"web": {}, "tls": {}}, {"low": 1}, True),
        ("bbbbbbbbbbb3", "b.example.org", "bob@example.com", "failed", {"tls": {}}, {}, False),
    ]
    with sessions.begin() as s:
        for i, (sid, host, email, status, scanners, counts, report) in enumerate(rows):
            t = now + timedelta(minutes=10 * i)
            s.add(
                Scan(
                    id=sid,
                    target=f"https://{host}/",
                    host=host,
                    requester_email=email,
                    scanners=scanners,
                    status=status,
                    created_at=t,
                    confirmed_at=t + timedelta(minutes=1),
                    started_at=t + timedelta(minutes=2),
                    finished_at=t + timedelta(minutes=5),
                    severity_counts=counts,
                    report_key=f"reports/{sid}/" if report else "",
                )
            )
            s.flush()
            for name in scanners:
                s.add(
                    Step(
                        scan_id=sid,
                        name=name,
                        state="succeeded",
                        started_at=t + timedelta(minutes=2),
                        finished_at=t + timedelta(minutes=4),
                    )
                )


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def scans_table(at: AppTest):
    return next(d.value for d in at.dataframe if "progress" in d.value.columns)


def test_history_filters_change_every_number_and_live_in_the_url(app) -> None:
    app.run()
    seed(get_runtime().sessions)
    app.switch_page("views/history.py").run()
    assert not app.exception
    assert metric(app, "Scans") == "3" and metric(app, "Targets scanned") == "3"
    assert metric(app, "Success rate") == "33%" and metric(app, "High") == "2"
    assert len(app.get("plotly_chart")) == 6
    table = scans_table(app)
    assert set(table["scan"]) == {"aaaaaaaaaaa1", "aaaaaaaaaaa2", "bbbbbbbbbbb3"}
    assert "/progress?scan=aaaaaaaaaaa1" in set(table["progress"])
    assert "/reports?scan=aaaaaaaaaaa1" in set(table["report"])
    assert [b for b in app.get("download_button") if "CSV" in b.proto.label]
    assert {"from", "to"} <= set(app.query_params)

    app.text_input(key="h_domain").input("a.example.com").run()  # the host and its subdomain
    assert not app.exception
    assert metric(app, "Scans") == "2" and set(scans_table(app)["scan"]) == {"aaaaaaaaaaa1", "aaaaaaaaaaa2"}
    assert app.query_params["domain"] == ["a.example.com"] or app.query_params["domain"] == "a.example.com"

    app.multiselect(key="h_status").select("partial").run()
    assert metric(app, "Scans") == "1" and metric(app, "Success rate") == "0%" and metric(app, "High") == "0"
    assert set(scans_table(app)["scan"]) == {"aaaaaaaaaaa2"}

    app.multiselect(key="h_status").unselect("partial").select("failed").run()
    assert not app.exception and "No scans match" in app.info[0].value


def test_history_view_opens_from_a_shared_url(app) -> None:
    app.run()
    seed(get_runtime().sessions)
    app.query_params["requester"] = "bob@example.com"
    app.query_params["scanner"] = "tls"
    app.switch_page("views/history.py").run()
    assert not app.exception
    assert app.text_input(key="h_requester").value == "bob@example.com"
    assert app.multiselect(key="h_scanner").value == ["tls"]
    assert set(scans_table(app)["scan"]) == {"aaaaaaaaaaa2", "bbbbbbbbbbb3"} and metric(app, "Scans") == "2"


def test_history_without_scans_says_so(app) -> None:
    app.run()
    app.switch_page("views/history.py").run()
    assert not app.exception and app.info and "No scans" in app.info[0].value


def test_cluster_page_embedded_shows_the_pool_over_time(app) -> None:
    app.run()
    rt = get_runtime()
    rt.sampler.sample_once()
    app.switch_page("views/cluster.py").run()
    assert not app.exception
    assert "No Kubernetes cluster" in app.info[0].value
    assert metric(app, "Workers idle") == str(rt.settings.scan_workers)
    assert app.get("plotly_chart")  # workers busy / idle and queue length over time


def test_cluster_page_argo_mode_reads_the_cluster(cluster, argo_app) -> None:  # noqa: F811
    argo_app.run()
    assert get_runtime().mode == "argo"
    argo_app.switch_page("views/cluster.py").run()
    assert not argo_app.exception and not argo_app.error
    assert metric(argo_app, "Nodes") == "4" and metric(argo_app, "Spot nodes") == "3"
    assert metric(argo_app, "Pending pods") == "3" and metric(argo_app, "Scan pods running") == "2"
    pending = next(d.value for d in argo_app.dataframe if "scan_link" in d.value.columns)
    row = pending[pending["pod"] == "scan-abcdefabcdef-portscan-3"].iloc[0]
    assert row["scan_link"] == "/progress?scan=abcdefabcdef" and row["reason"] == "Unschedulable"
    events = next(d.value for d in argo_app.dataframe if "reason" in d.value.columns and "object" in d.value.columns)
    assert set(events["reason"]) == {"TriggeredScaleUp", "NotTriggerScaleUp", "ScaleDown"}
    assert any("Health: Healthy" in c.value for c in argo_app.code)
    assert len(argo_app.get("plotly_chart")) >= 2


def test_cluster_page_argo_mode_api_down_is_a_banner_with_the_last_good_time(cluster, argo_app) -> None:  # noqa: F811
    argo_app.run()
    argo_app.switch_page("views/cluster.py").run()
    assert not argo_app.error and metric(argo_app, "Nodes") == "4"
    cluster.stop()
    time.sleep(0.6)  # one interval (SAMPLE_SECONDS=0.5): the next viewer triggers a refresh
    argo_app.run()
    assert not argo_app.exception
    [banner] = argo_app.error
    assert "Cannot read the cluster" in banner.value and "connection refused" in banner.value
    assert "last good snapshot, from" in banner.value
    assert metric(argo_app, "Nodes") == "4"  # the last good snapshot is still shown


def test_cluster_page_argo_mode_api_never_reached(cluster, argo_app) -> None:  # noqa: F811
    cluster.stop()
    argo_app.run()
    argo_app.switch_page("views/cluster.py").run()
    assert not argo_app.exception
    [banner] = argo_app.error
    assert "Cannot read the cluster" in banner.value and "No snapshot has been read yet" in banner.value
