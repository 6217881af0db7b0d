"""The Alembic migrations build exactly the schema the models describe (no drift when a table is added)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from lib.adapters.db import migrate
from lib.adapters.models import Base


def test_migrated_schema_matches_the_models(tmp_path) -> None:
    db = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(db)
    with db.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []
    assert {"schedules", "notification_rules", "notification_deliveries", "notified_scans"} <= set(
        inspect(db).get_table_names()
    )
