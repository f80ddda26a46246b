"""A stand-in receiver for the records tests, run as its own process: HTTPS (stdlib ssl) on
127.0.0.1 with a certificate from the test's CA. Each POST's JWS is checked with the kiosk's
public JWK, the record against docs/record.schema.json and its evidence re-verified as the real
receiver does (``verify_evidence``, trusting the emulator's test roots and CVC issuer keys in
``--trust-dir``); one line per acknowledged record (id, Idempotency-Key, checks; never the
record itself) goes to the log.

The behaviour is read from the mode file on every request, so a test switches it live:
``ok``, ``500``, ``400``, ``hang`` (answers nothing), ``close`` (drops the connection),
``garbage`` (2xx with a nonsense body), ``stall`` (commits, sends 2xx headers and half the body,
then hangs: the kiosk has its 2xx but cannot finish reading it).

    python -m tests.support.receiver_server --port P --cert C --key K --log L --mode-file M \
        --jwk J --trust-dir T
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "record.schema.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("cert", "key", "log", "mode-file", "jwk", "trust-dir"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    import jsonschema

    from agent.records.evidence import verify_evidence
    from agent.records.signing import verify
    from tests.support.record_maker import AT, flow_config_for_tests

    jwk = json.loads(Path(args.jwk).read_text())
    flow_config = flow_config_for_tests(Path(args.trust_dir))
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    lock = threading.Lock()
    mode_file = Path(args.mode_file)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, format: str, *a: Any) -> None:
            pass

        def _commit(self, body: bytes) -> None:
            line: dict[str, Any] = {"idem": self.headers.get("Idempotency-Key")}
            try:
                record = verify(body.decode("ascii"), jwk)
                line["record_id"] = record["record_id"]
                line["sig_ok"] = True
                line["schema_errors"] = [e.message for e in validator.iter_errors(record)]
                line["flow"], line["ok"] = record["flow"], record["ok"]
                line["staff_id"] = record["staff_id"]
                line["identity_keys"] = sorted(record["identity"] or {})
                if record["evidence"] is not None:
                    # At the test time, as the kiosk verified: the test PKI is valid then.
                    verdict = verify_evidence(record, flow_config, AT)
                    line["evidence"] = "ok" if verdict.state == "accepted" else verdict.reason
                    line["rechecked"] = list(verdict.rechecked)
                line["documents"] = {k: sorted(v) for k, v in
                                     ((record["evidence"] or {}).get("documents") or {}).items()}
            except Exception as e:  # noqa: BLE001 - recorded for the test to see
                line["sig_ok"] = False
                line["error"] = repr(e)[:200]
            with lock, open(args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
                f.flush()
                os.fsync(f.fileno())

        def do_GET(self) -> None:
            self._send(200, b"receiver\n")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = mode_file.read_text().strip() if mode_file.exists() else "ok"
            if mode == "hang":
                with lock, open(args.log + ".hung", "a", encoding="utf-8") as f:
                    f.write((self.headers.get("Idempotency-Key") or "") + "\n")
                time.sleep(3600)
                return
            if mode == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode in ("500", "400"):
                self._send(int(mode), b'{"error":"test"}')
                return
            self._commit(body)
            if mode == "garbage":
                self._send(200, b"\x00\xffnot json at all")
            elif mode == "stall":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b'{"stored":')
                self.wfile.flush()
                time.sleep(3600)
            else:
                self._send(201, b'{"stored":true}')

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
