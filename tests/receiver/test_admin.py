"""The operator's commands through ``myna receiver …`` and the pull API with its token."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main

JOSE = "application/jose"


def myna(capsys: Any, settings: Any, *args: str) -> tuple[int, str, str]:
    code = main(["receiver", *args[:1], *args[1:], "--db", settings.database_url,
                 "--state-dir", str(settings.state_dir)]
                if args[0] not in ("kiosk", "db", "token") else
                ["receiver", *args, "--db", settings.database_url,
                 "--state-dir", str(settings.state_dir)])
    out = capsys.readouterr()
    return code, out.out, out.err


def deliver(rx: Any, token: str) -> Any:
    return rx.app().test_client().post("/v1/records", data=token, content_type=JOSE)


def test_db_upgrade_kiosk_registry_and_errors(capsys, settings, kiosk_key, tmp_path):
    assert myna(capsys, settings, "db", "current")[1].strip() == "empty"
    code, out, _ = myna(capsys, settings, "db", "upgrade")
    assert code == 0 and "0001" in out
    jwk = tmp_path / "kiosk.jwk"
    jwk.write_text(json.dumps(kiosk_key.public_jwk()))
    code, out, _ = myna(capsys, settings, "kiosk", "add", "front-1", "--jwk", str(jwk))
    assert code == 0 and kiosk_key.kid in out
    code, _, err = myna(capsys, settings, "kiosk", "add", "front-2", "--jwk", str(jwk))
    assert code == 1 and "another kiosk" in err
    private = tmp_path / "private.jwk"
    private.write_text(json.dumps(kiosk_key._key.as_dict(private=True)))
    code, _, err = myna(capsys, settings, "kiosk", "add", "front-3", "--jwk", str(private))
    assert code == 1 and "PUBLIC" in err
    assert myna(capsys, settings, "kiosk", "disable", "front-1")[0] == 0
    code, out, _ = myna(capsys, settings, "kiosk", "list")
    assert out.split("\t")[:2] == ["front-1", "disabled"]
    code, _, err = myna(capsys, settings, "kiosk", "disable", "nobody")
    assert code == 1 and "no kiosk" in err


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_serve_refuses_an_old_postgres_schema(capsys, settings):
    # several receivers share one PostgreSQL: none of them migrates it behind the others' backs
    code, _, err = myna(capsys, settings, "serve", "--bind", "127.0.0.1:0")
    assert code == 1 and "db upgrade" in err


def test_export_show_and_pull_api(capsys, settings, registered, kiosk_key, make_record):
    from card.emulator import PERSONAS

    records = [make_record("yamada-taro", "sign"), make_record("foreign-resident", "sign"),
               make_record("revoked-cert", "sign")]
    for r in records:
        assert deliver(registered, kiosk_key.sign(r)).status_code == 201

    code, out, err = myna(capsys, settings, "export", "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "3 records exported" in err
    assert [x["record_id"] for x in lines] == [r["record_id"] for r in records]
    assert lines[0]["record"]["identity"]["name"] == PERSONAS["yamada-taro"].identity.name

    code, out, _ = myna(capsys, settings, "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[1]["name"] == PERSONAS["foreign-resident"].identity.name
    assert rows[2]["kiosk_ok"] == "False" and rows[2]["name"] == ""

    code, out, _ = myna(capsys, settings, "show", records[0]["record_id"])
    shown = json.loads(out)
    assert shown["state"] == "accepted" and shown["record"]["flow"] == "sign"
    assert myna(capsys, settings, "show", "00000000-0000-0000-0000-000000000000")[0] == 1

    code, token, _ = myna(capsys, settings, "token", "add", "crm")
    token = token.strip()
    client = registered.app().test_client()
    assert client.get("/v1/records").status_code == 401
    assert client.get("/v1/records", headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    page1 = client.get("/v1/records?limit=2", headers=auth).get_json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get(f"/v1/records?limit=2&cursor={page1['next_cursor']}",
                       headers=auth).get_json()
    assert [i["record_id"] for i in page1["items"] + page2["items"]] == [
        r["record_id"] for r in records]
    assert page2["next_cursor"] is None
    assert client.get("/v1/records?cursor=!!", headers=auth).status_code == 400
    assert client.get("/v1/records?evil=1", headers=auth).status_code == 400


def test_csv_cells_cannot_become_formulas(settings, registered, kiosk_key, make_record):
    from receiver import admin

    record = make_record("yamada-taro", "sign")
    record["identity"]["name"] = "=HYPERLINK(\"http://x\")"
    deliver(registered, kiosk_key.sign(record))  # stored (rejected: evidence no longer matches)
    out = io.StringIO()
    admin.export(registered, out, fmt="csv")
    assert "'=HYPERLINK" in out.getvalue()


def test_purge_keeps_recent_records_and_logs_deletions(capsys, settings, registered, kiosk_key,
                                                       make_record):
    from receiver import admin

    old = make_record(at=datetime(2026, 11, 26, tzinfo=UTC))
    assert deliver(registered, kiosk_key.sign(old)).status_code == 201
    now = datetime(2026, 11, 26, tzinfo=UTC) + timedelta(days=366 * 7 + 1)
    kept = admin.purge(registered, older_than=timedelta(days=366 * 8),
                       my_number_older_than=timedelta(days=90), now=now)
    assert kept.deleted == 0
    result = admin.purge(registered, older_than=timedelta(days=366 * 7),
                         my_number_older_than=timedelta(days=90), now=now)
    assert result.deleted == 1
    log = admin.deletion_log(registered)
    assert old["record_id"] in log and "retention" in log
    assert admin.export(registered, io.StringIO(), fmt="jsonl") == 0


def test_my_number_records_have_their_own_shorter_retention(registered, kiosk_key, make_record):
    from agent.records.record import RecordPolicy
    from receiver import admin

    policy = RecordPolicy("kiosk-1", my_number=True)
    with_number = make_record("yamada-taro", "number", policy=policy)
    assert "my_number" in with_number["identity"]
    plain = make_record("yamada-taro", "sign")
    for r in (with_number, plain):
        assert deliver(registered, kiosk_key.sign(r)).status_code == 201
    now = datetime(2026, 11, 26, tzinfo=UTC) + timedelta(days=91)
    result = admin.purge(registered, older_than=timedelta(days=366 * 7),
                         my_number_older_than=timedelta(days=90), now=now)
    assert (result.deleted, result.my_number_deleted) == (1, 1)
    out = io.StringIO()
    admin.export(registered, out, fmt="jsonl")
    assert json.loads(out.getvalue())["record_id"] == plain["record_id"]


def test_data_key_file_is_private(settings, registered):
    key = Path(settings.data_key_file)
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_kiosks_keys_show_jwk_registers_as_is(capsys, settings, tmp_path):
    """The kiosk side's ``myna keys show --jwk`` output is exactly what ``kiosk add`` takes."""
    from agent.records.signing import KioskKey

    conf = tmp_path / "kiosk.toml"
    state = tmp_path / "kiosk-state"
    conf.write_text(f'[records]\nstate_dir = "{state}"\n')
    key = KioskKey.init(state / "kiosk-signing.jwk")
    assert main(["keys", "show", "--jwk", "--config", str(conf)]) == 0
    jwk_file = tmp_path / "kiosk.jwk"
    jwk_file.write_text(capsys.readouterr().out)
    assert myna(capsys, settings, "db", "upgrade")[0] == 0
    code, out, _ = myna(capsys, settings, "kiosk", "add", "front-9", "--jwk", str(jwk_file))
    assert code == 0 and key.kid in out
