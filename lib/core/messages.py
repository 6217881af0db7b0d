"""The words of the emails scanboard sends (plain text: every client shows it, and links stay links)."""

from __future__ import annotations

from lib.core.findings import SEVERITIES
from lib.core.pipeline import SCANNER_LABELS


def confirmation_email(
    target: str, scan_id: str, scanners: dict[str, dict], link: str, ttl_hours: float
) -> tuple[str, str]:
    chosen = "\n".join(
        f"  - {SCANNER_LABELS[name]}" + (f" ({', '.join(f'{k} {v}' for k, v in opts.items())})" if opts else "")
        for name, opts in scanners.items()
    )
    subject = f"Confirm your security scan of {target}"
    body = (
        f"Someone (hopefully you) asked scanboard to scan\n\n  {target}\n\nwith:\n{chosen}\n\n"
        f"To start the scan, open this link within {ttl_hours:g} hours:\n\n{link}\n\n"
        f"The link works once. If you did not ask for this scan, ignore this email: nothing will be scanned.\n\n"
        f"Scan id: {scan_id}\n"
    )
    return subject, body


def report_email(
    target: str, scan_id: str, link: str, counts: dict[str, int], portal_link: str = ""
) -> tuple[str, str]:
    """`link` downloads the report (a presigned URL in cluster mode, which expires with the credentials that
    signed it); `portal_link`, when different, is the Reports page, which always makes a fresh one."""
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES)
    subject = f"Your scan report for {target} is ready"
    later = (
        f"If the link has expired, the report stays on the portal:\n\n{portal_link}\n\n"
        if portal_link and portal_link != link
        else ""
    )
    body = (
        f"The security scan of\n\n  {target}\n\nhas finished: {summary}.\n\n"
        f"Download the report here:\n\n{link}\n\n{later}Scan id: {scan_id}\n"
    )
    return subject, body
