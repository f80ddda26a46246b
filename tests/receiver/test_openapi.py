"""docs/receiver-openapi.json against the running app: the same routes and methods, and every
answer the tests provoke fits the documented schema of its status code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

DOC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "receiver-openapi.json")
                 .read_text(encoding="utf-8"))


def node_ref(ref: str) -> list[str]:
    return ref.removeprefix("#/").split("/")


def schema_for(path: str, method: str, status: int) -> dict[str, Any]:
    response = DOC["paths"][path][method]["responses"][str(status)]
    while "$ref" in response:
        node: Any = DOC
        for part in node_ref(response["$ref"]):
            node = node[part]
        response = node
    schema = response["content"]["application/json"]["schema"]
    return {"$defs": DOC["components"]["schemas"],
            **json.loads(json.dumps(schema).replace("#/components/schemas/", "#/$defs/"))}


def check(path: str, method: str, res: Any) -> None:
    assert str(res.status_code) in DOC["paths"][path][method]["responses"], res.status_code
    jsonschema.validate(res.get_json(), schema_for(path, method, res.status_code))


def test_routes_match_the_document(registered):
    app = registered.app()
    served = {(re.sub(r"<[^>]+>", "{}", r.rule), m.lower())
              for r in app.url_map.iter_rules() if r.endpoint != "static"
              for m in r.methods - {"HEAD", "OPTIONS"}}
    documented = {(re.sub(r"\{[^}]+\}", "{}", p), m) for p, ops in DOC["paths"].items()
                  for m in ops}
    assert served == documented


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_answers_fit_their_schemas(registered, kiosk_key, make_record, capsys):
    from receiver import admin

    client = registered.app().test_client()
    record = make_record()
    token = kiosk_key.sign(record)
    post = lambda body, **kw: client.post(  # noqa: E731
        "/v1/records", data=body, content_type=kw.pop("ctype", "application/jose"), **kw)
    check("/v1/records", "post", post(token))
    check("/v1/records", "post", post(token))
    check("/v1/records", "post", post(kiosk_key.sign(dict(record, staff_id="x"))))  # 409
    check("/v1/records", "post", post("a.b.c"))
    check("/v1/records", "post", post(token, ctype="text/plain"))
    check("/v1/records", "post", post(b"x" * (2 << 20)))
    secret = admin.add_token(registered, "crm")
    auth = {"Authorization": f"Bearer {secret}"}
    check("/v1/records", "get", client.get("/v1/records", headers=auth))
    check("/v1/records", "get", client.get("/v1/records"))
    check("/v1/records", "get", client.get("/v1/records?limit=0", headers=auth))
    check("/healthz", "get", client.get("/healthz"))
    res = client.get("/metrics")
    assert res.status_code == 200 and res.content_type.startswith("text/plain")
