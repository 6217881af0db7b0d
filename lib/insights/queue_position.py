"""Why a scan has not started yet, and where it stands: the progress page's answer to "when does mine run?".

Why here and not in the page: the reasons follow the dispatchers' rules (oldest confirmation first, a bounded
worker pool in embedded mode, the per-requester running limit checked when the link is opened, the ownership
proof before queueing), and a test can hold them to those rules on real database rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.models import AWAITING_CONFIRMATION, AWAITING_OWNERSHIP, QUEUED
from lib.adapters.repository import QueueFacts, queue_facts

WORKERS_BUSY = "workers_busy"
STARTING = "starting"
PER_USER_LIMIT = "per_user_limit"
OWNERSHIP_PROOF = "ownership_proof"
DISPATCH = "dispatch"  # cluster mode: waiting for the webhook to accept it


@dataclass(frozen=True)
class QueueWait:
    reason: str  # one of the constants above
    message: str  # what the requester reads
    position: int | None = None  # 1 = the next scan to start; None when it is not in the queue yet
    queued: int = 0  # scans in the queue, this one included


def _n(n: int, word: str = "scan") -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _queued(f: QueueFacts, workers: int | None) -> QueueWait:
    position = f.ahead + 1
    where = f"Number {position} of {f.queued} in the queue"
    if workers is None:
        return QueueWait(
            DISPATCH, f"{where}: {f.status_reason or 'waiting for the cluster to accept it'}.", position, f.queued
        )
    free = max(workers - f.running, 0)
    if free == 0:
        ahead = f" and {_n(f.ahead)} ahead of it" if f.ahead else ""
        busy = "the only worker is busy" if workers == 1 else f"all {workers} workers are busy"
        why = f"{busy}{ahead}; it starts when one finishes."
        return QueueWait(WORKERS_BUSY, f"{where}: {why}", position, f.queued)
    if f.ahead >= free:
        why = f"the free workers ({free}) go to the scans ahead of it ({f.ahead}); it starts when one finishes."
        return QueueWait(WORKERS_BUSY, f"{where}: {why}", position, f.queued)
    return QueueWait(STARTING, f"{where}: a worker is free; it starts within seconds.", position, f.queued)


def explain(f: QueueFacts, workers: int | None, limit_running: int) -> QueueWait | None:
    """The wait of a scan from its counts; None when it is not waiting (running or finished) or waits only
    for its confirmation link. workers: the embedded pool's size; None in cluster mode (no fixed pool)."""
    if f.status == QUEUED:
        return _queued(f, workers)
    if f.status == AWAITING_OWNERSHIP:
        detail = f.status_reason or "waiting for the ownership proof"
        return QueueWait(OWNERSHIP_PROOF, f"Not queued yet, {detail[0].lower()}{detail[1:]}.")
    if f.status == AWAITING_CONFIRMATION and f.mine_active >= limit_running:
        return QueueWait(
            PER_USER_LIMIT,
            f"You have {_n(f.mine_active)} running or queued (limit {limit_running}): the confirmation link "
            "is refused until one has finished. Open it again then; it stays valid until it expires.",
        )
    return None


def queue_wait(
    sessions: sessionmaker[Session], scan_id: str, workers: int | None, limit_running: int
) -> QueueWait | None:
    """explain() for the scan as stored now; None for an unknown scan."""
    facts = queue_facts(sessions, scan_id)
    return explain(facts, workers, limit_running) if facts is not None else None
