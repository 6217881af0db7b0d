"""The shape of the running app's services, so lib modules can take them without importing their builders."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from lib.adapters.mail import Mailer
from lib.adapters.storage import ReportStore
from lib.config import Settings
from lib.engines.base import Engine


class Services(Protocol):
    settings: Settings
    sessions: sessionmaker[Session]
    mailer: Mailer
    store: ReportStore
    engine: Engine
