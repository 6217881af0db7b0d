"""Secrets never in a repr or a settings dump, and the data folder and database owner-only, as a local user
reading other people's files (or a log collector dumping objects) would find them."""

from __future__ import annotations

import os
import stat
from urllib.parse import parse_qs, urlsplit

from lib.adapters.mail import SmtpTransport
from lib.runtime import build_runtime
from lib.services.intake import submit

DB_PASSWORD = "db-pw-Vb6Nm2Qw8Er4"
SMTP_PASSWORD = "smtp-pw-Lk3Jh7Gf1Ds5"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_passwords_stay_out_of_reprs_and_dumps(make_settings, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://scanboard:{DB_PASSWORD}@db.internal:5432/scanboard")
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    s = make_settings(smtp_host="smtp.internal", smtp_user="relay@corp.example")
    transport = SmtpTransport.from_settings(s)
    shown = [repr(s), str(s), s.model_dump_json(), str(s.model_dump()), repr(transport), str(transport)]
    for text in shown:
        assert DB_PASSWORD not in text and SMTP_PASSWORD not in text
    assert DB_PASSWORD in s.db_url and transport.password == SMTP_PASSWORD  # still usable where needed


def test_data_folder_database_and_secret_are_owner_only(make_settings) -> None:
    old = os.umask(0o022)  # the usual umask: what the portal creates would otherwise be world-readable
    try:
        settings = make_settings()
        rt = build_runtime(settings)
        try:
            out = submit(rt, "http://127.0.0.1:9/", "ana@example.com", {"web": {}})  # writes a live link
            assert "token" in parse_qs(urlsplit(rt.mailer.messages()[0].link).query) and out.ok
            data = settings.data_dir
            assert mode(data) == 0o700
            for name in ("scanboard.db", "scanboard.db-wal", "scanboard.db-shm", "secret.key"):
                assert mode(data / name) == 0o600, name
        finally:
            rt.stop()
    finally:
        os.umask(old)


def test_an_older_world_readable_data_folder_is_tightened(make_settings) -> None:
    settings = make_settings()
    settings.data_dir.mkdir(mode=0o755)
    os.chmod(settings.data_dir, 0o755)
    (settings.data_dir / "scanboard.db").touch(mode=0o644)
    os.chmod(settings.data_dir / "scanboard.db", 0o644)
    build_runtime(settings).stop()
    assert mode(settings.data_dir) == 0o700 and mode(settings.data_dir / "scanboard.db") == 0o600


def test_a_database_in_a_shared_folder_leaves_the_folder_as_it_was(make_settings, tmp_path) -> None:
    """DATABASE_URL=sqlite:////tmp/x.db must not make /tmp owner-only (it once did: postgres's initdb then failed)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    settings = make_settings(database_url=f"sqlite:///{shared / 'scanboard.db'}")
    build_runtime(settings).stop()
    assert mode(shared) == 0o1777 and mode(shared / "scanboard.db") == 0o600
