"""The migrations have one head, and a database an earlier release left at the five parallel heads upgrades to
it with its data intact."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from lib.adapters.db import MIGRATIONS, migrate

OLD_HEADS = ("0004", "0004_schedules", "0004_api_tokens", "access_audit", "argo_deliveries")


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def test_one_head() -> None:
    assert ScriptDirectory.from_config(config()).get_heads() == ["0005"]


def test_a_database_at_the_old_heads_upgrades_to_the_merge(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for head in OLD_HEADS:
            command.upgrade(cfg, head)
        row = "INSERT INTO audit_events (at, actor, action, scan_id, detail) VALUES "
        row += "(CURRENT_TIMESTAMP, 'a', 'b', '', '')"
        conn.execute(text(row))
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))) == sorted(OLD_HEADS)
    migrate(engine)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))] == ["0005"]
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
    assert "scans" in inspect(engine).get_table_names()
