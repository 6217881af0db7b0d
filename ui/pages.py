"""The portal's pages in one place: file, title and icon, so the navigation, each page's heading and every link
to a page show the same words and the same icon."""

from __future__ import annotations

from typing import NamedTuple


class PageInfo(NamedTuple):
    file: str
    title: str  # the navigation entry, the browser tab and the page's heading
    icon: str


PAGES = {
    "new_scan": PageInfo("views/new_scan.py", "New scan", ":material/add_circle:"),
    "progress": PageInfo("views/progress.py", "Scan progress", ":material/account_tree:"),
    "reports": PageInfo("views/reports.py", "Reports", ":material/description:"),
    "outbox": PageInfo("views/outbox.py", "Outbox", ":material/mail:"),
    "schedules": PageInfo("views/schedules.py", "Schedules", ":material/event_repeat:"),
    "tokens": PageInfo("views/tokens.py", "API tokens", ":material/key:"),
    "history": PageInfo("views/history.py", "History", ":material/bar_chart:"),
    "cluster": PageInfo("views/cluster.py", "Cluster", ":material/dns:"),
    "audit": PageInfo("views/audit.py", "Audit log", ":material/policy:"),
}
SECTIONS = {
    "Scans": ("new_scan", "progress", "reports", "schedules", "outbox"),
    "Insights": ("history", "cluster", "audit"),
    "Automation": ("tokens",),
}
CONFIRM = PageInfo("views/confirm.py", "Confirm scan", ":material/verified:")
SIGN_IN = PageInfo("views/sign_in.py", "Sign in", ":material/login:")
