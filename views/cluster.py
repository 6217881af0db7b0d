"""Where scans run. Embedded: the local worker pool, now and over time. Argo: nodes, pending pods (with the scan that
owns them) and autoscaler events from one shared Kubernetes snapshot per interval, and node counts over time from
the sampler. Live: the fragment below re-runs every interval; the API is listed at most once per interval for all
viewers together (lib.insights.cluster_snapshot.ClusterSnapshots).
"""

from datetime import UTC, datetime, timedelta

import streamlit as st

from lib.core.text import md_escape
from lib.insights.cluster_frames import (
    SUMMARY_LABELS,
    ClusterView,
    cluster_view,
    node_count_figure,
    pool_figure,
    summary,
)
from lib.insights.cluster_snapshot import ClusterSnapshot, ClusterSnapshots, SnapshotState, read_error_text
from lib.insights.sampler import samples_frame, scan_starts
from ui.runtime import get_runtime

WINDOWS = {"1 hour": 1, "6 hours": 6, "24 hours": 24, "7 days": 24 * 7}

rt = get_runtime()
interval = rt.settings.sample_seconds
db_url = rt.settings.db_url


@st.cache_data(ttl=interval, max_entries=16, show_spinner=False)
def _history(db_url: str, hours: int, with_scans: bool):
    since = datetime.now(UTC) - timedelta(hours=hours)
    sessions = get_runtime().sessions
    return samples_frame(sessions, since), scan_starts(sessions, since) if with_scans else None


@st.cache_resource(max_entries=4, show_spinner=False)
def _view(db_url: str, taken_at: str, _snapshot) -> ClusterView:
    return cluster_view(_snapshot)


st.title("Cluster")
window = st.segmented_control("Window", list(WINDOWS), default="6 hours", key="c_window") or "6 hours"
hours = WINDOWS[window]

if rt.mode != "argo":
    st.info("No Kubernetes cluster is configured: scans run in this app's local worker pool.", icon=":material/info:")

    @st.fragment(run_every=min(interval, 5))
    def pool() -> None:
        stats = rt.engine.stats()
        c1, c2, c3 = st.columns(3)
        c1.metric("Workers busy", stats.busy)
        c2.metric("Workers idle", stats.workers - stats.busy)
        c3.metric("Scans queued", stats.queued)
        samples, _ = _history(db_url, hours, False)
        if samples.empty:
            st.caption(f"The pool's history appears here once the sampler has recorded it (every {interval:g} s).")
        else:
            st.plotly_chart(pool_figure(samples), key="c_pool", config={"displaylogo": False})

    pool()
    st.stop()

if rt.cluster is None:
    raise RuntimeError("an argo-mode runtime always has its cluster snapshot")
snapshots: ClusterSnapshots = rt.cluster  # the runtime's one snapshot, shared with the sampler and every viewer


def _read_error_banner(state: SnapshotState) -> None:
    """Say the API is unreachable, and whether the figures below are an older snapshot or nothing at all."""
    if state.error:
        st.error(read_error_text(state), icon=":material/cloud_off:")


def _headline(view: ClusterView, snap: ClusterSnapshot) -> None:
    """The summary numbers as metrics, and the snapshot's time."""
    s = summary(view)
    for col, (key, label) in zip(st.columns(len(SUMMARY_LABELS)), SUMMARY_LABELS.items(), strict=True):
        col.metric(label, s[key])
    st.caption(f"Snapshot {snap.taken_at:%H:%M:%S} UTC · refreshed every {interval:g} s for all viewers")


def _charts(view: ClusterView) -> None:
    """Node counts over time (from the sampler), then capacity and usage of this snapshot side by side."""
    samples, starts = _history(db_url, hours, True)
    if samples.empty:
        st.caption("The sampler has not recorded node counts yet.")
    else:
        st.plotly_chart(node_count_figure(samples, starts), key="c_nodes_over_time", config={"displaylogo": False})
    a, b = st.columns(2)
    a.plotly_chart(view.figures["capacity"], key="c_capacity", config={"displaylogo": False})
    b.plotly_chart(view.figures["usage"], key="c_usage", config={"displaylogo": False})


def _pending_pods(view: ClusterView) -> None:
    """Pods waiting for a node, each linked to the scan that owns it."""
    st.subheader(f"Pending pods ({len(view.pending)})")
    if view.pending.empty:
        st.caption("None: every pod is scheduled.")
        return
    st.dataframe(
        view.pending.drop(columns=["scan"]),
        hide_index=True,
        key="c_pending",
        column_config={
            "scan_link": st.column_config.LinkColumn("Scan", display_text=r"/progress\?scan=(.*)"),
            "age_min": st.column_config.NumberColumn("Age (min)", format="%.0f"),
        },
    )


def _nodes_table(view: ClusterView) -> None:
    """Every node with its share of CPU and memory requested."""
    st.subheader("Nodes")
    st.dataframe(
        view.nodes,
        hide_index=True,
        key="c_nodes",
        column_config={
            "age_h": st.column_config.NumberColumn("Age (h)", format="%.1f"),
            "cpu_pct": st.column_config.ProgressColumn("CPU requested", min_value=0, max_value=100, format="%.0f%%"),
            "mem_pct": st.column_config.ProgressColumn("Memory requested", min_value=0, max_value=100, format="%.0f%%"),
            "mem_allocatable_gib": st.column_config.NumberColumn("Mem alloc (GiB)", format="%.1f"),
            "mem_requested_gib": st.column_config.NumberColumn("Mem req (GiB)", format="%.1f"),
        },
    )


def _autoscaler(view: ClusterView, snap: ClusterSnapshot) -> None:
    """The cluster-autoscaler's scale events and its status ConfigMap (why nodes were or were not added)."""
    st.subheader("Cluster autoscaler")
    if view.events.empty:
        st.caption("No TriggeredScaleUp / NotTriggerScaleUp / ScaleDown events.")
    else:
        st.dataframe(view.events, hide_index=True, key="c_events")
    if snap.autoscaler_status:
        with st.expander("kube-system/cluster-autoscaler-status"):
            st.code(snap.autoscaler_status, language="yaml")
    else:
        st.caption("No kube-system/cluster-autoscaler-status ConfigMap.")


@st.fragment(run_every=interval)
def live() -> None:
    state = snapshots.get()
    snap = state.snapshot
    _read_error_banner(state)
    if snap is None:
        return
    for w in snap.warnings:
        st.warning(md_escape(w), icon=":material/warning:")
    view = _view(db_url, snap.taken_at.isoformat(), snap)
    _headline(view, snap)
    _charts(view)
    _pending_pods(view)
    _nodes_table(view)
    _autoscaler(view, snap)


live()
