"""Records tests' real parts: a test CA (trustme), the stand-in HTTPS receiver and the agent as
separate processes (``receiver_server``, ``records_agent``), and the records config sections."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from agent.records.signing import KioskKey
from tests.support.configs import service_config
from tests.support.staff import sign_in_staff

ROOT = Path(__file__).resolve().parents[2]
KIOSK_ID = "kiosk-test-01"


@dataclass
class TestPki:
    ca_file: Path
    cert: Path  # 127.0.0.1 / localhost, valid now
    key: Path
    expired_cert: Path
    expired_key: Path
    wrong_host_cert: Path
    wrong_host_key: Path
    other_ca_file: Path


def make_pki(directory: Path) -> TestPki:
    directory.mkdir(parents=True, exist_ok=True)
    ca, other = trustme.CA(), trustme.CA()
    out: dict[str, Path] = {}

    def save(name: str, cert: Any) -> None:
        (directory / f"{name}.pem").write_bytes(cert.cert_chain_pems[0].bytes())
        (directory / f"{name}.key").write_bytes(cert.private_key_pem.bytes())
        out[name] = directory / f"{name}.pem"
        out[name + "_key"] = directory / f"{name}.key"

    save("server", ca.issue_cert("127.0.0.1", "localhost"))
    now = dt.datetime.now(dt.UTC)
    save("expired", ca.issue_cert("127.0.0.1", "localhost", not_before=now - dt.timedelta(days=30),
                                  not_after=now - dt.timedelta(days=1)))
    save("wrong_host", ca.issue_cert("receiver.example.invalid"))
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    other.cert_pem.write_to_path(str(directory / "other_ca.pem"))
    return TestPki(directory / "ca.pem", out["server"], out["server_key"], out["expired"],
                   out["expired_key"], out["wrong_host"], out["wrong_host_key"],
                   directory / "other_ca.pem")


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Receiver:
    """The stand-in receiver process; ``stop()`` then ``start()`` keeps the same port. It
    re-verifies evidence against ``trust_dir`` (by default the emulator's trust, exported)."""

    def __init__(self, directory: Path, pki: TestPki, jwk: dict[str, Any], *,
                 cert: Path | None = None, key: Path | None = None,
                 trust_dir: Path | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        if trust_dir is None:
            from card.emulator import export_trust

            trust_dir = directory / "trust"
            export_trust(trust_dir)
        self.trust_dir = trust_dir
        self.log = directory / "received.jsonl"
        self.mode_file = directory / "mode"
        self.jwk_file = directory / "kiosk.jwk"
        self.jwk_file.write_text(json.dumps(jwk))
        self.cert, self.key = cert or pki.cert, key or pki.key
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1/records"

    def start(self) -> Receiver:
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "tests.support.receiver_server", "--port", str(self.port),
             "--cert", str(self.cert), "--key", str(self.key), "--log", str(self.log),
             "--mode-file", str(self.mode_file), "--jwk", str(self.jwk_file),
             "--trust-dir", str(self.trust_dir)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def set_mode(self, mode: str) -> None:
        self.mode_file.write_text(mode)

    def received(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def hung(self) -> list[str]:
        path = self.log.with_name(self.log.name + ".hung")
        return path.read_text().split() if path.exists() else []

    def unique(self) -> list[dict[str, Any]]:
        """One line per record id (the first), in order of arrival."""
        seen: dict[str, dict[str, Any]] = {}
        for line in self.received():
            seen.setdefault(line.get("record_id"), line)
        return list(seen.values())

    def ids(self) -> list[str]:
        """Record ids in order of first arrival. Delivery is at least once: a POST that timed
        out on a loaded machine may arrive twice, always with the same id (``all_ids``)."""
        return list(dict.fromkeys(self.all_ids()))

    def all_ids(self) -> list[str]:
        return [r.get("record_id") for r in self.received()]


def records_sections(state_dir: Path, url: str, ca_file: Path, **records: Any) -> dict[str, Any]:
    return {
        "records": {"enabled": True, "kiosk_id": KIOSK_ID, "state_dir": str(state_dir),
                    **records},
        "handoff": {"url": url, "ca_file": str(ca_file), "timeout": 3.0},
    }


def init_key(state_dir: Path) -> KioskKey:
    return KioskKey.init(state_dir / "kiosk-signing.jwk")


def config_mapping(tmp: Path, trust_dir: Path, sections: dict[str, Any]) -> dict[str, Any]:
    """The same mapping ``service_config`` builds, as plain data for the agent process."""
    config = service_config(tmp, trust_dir, **sections)
    import dataclasses

    return {name: {k: list(v) if isinstance(v, tuple) else v
                   for k, v in dataclasses.asdict(getattr(config, name)).items()}
            for name in ("reader", "flows", "trust", "api", "log", "records", "handoff")}


class AgentProcess:
    """The agent (``records_agent``) as a process the test can SIGKILL and start again; its
    log goes to ``log_file`` and its temporary files to ``tmp_dir`` (the privacy scan reads
    both). Every start signs a staff member in (``staff_id``), as face and number need."""

    staff_id = "records-desk"

    def __init__(self, config_file: Path, log_file: Path, tmp_dir: Path) -> None:
        self.config_file = config_file
        self.log_file = log_file
        self.tmp_dir = tmp_dir
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.token = ""
        self.staff: dict[str, str] = {}  # the staff session headers (tests.support.staff)

    def start(self) -> AgentProcess:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "a", encoding="utf-8") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "tests.support.records_agent", str(self.config_file)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                env={**os.environ, "TMPDIR": str(self.tmp_dir)})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), line
        self.url = line.split()[1]
        config = json.loads(self.config_file.read_text())
        self.token = Path(config["api"]["token_file"]).read_text().strip()
        self._sign_in_staff()
        return self

    def _sign_in_staff(self) -> None:
        """The account goes into the agent's own store file (the process reads it on login);
        the session lives in the process, so a restarted agent needs a new sign-in."""
        from types import SimpleNamespace

        from agent.service.config import config_from_mapping
        from agent.staff import StaffStore

        config = config_from_mapping(json.loads(self.config_file.read_text()))
        agent = SimpleNamespace(staff_store=StaffStore(config.staff_store_path))
        sign_in_staff(agent, self, self.staff_id)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
        self.proc = None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self.kill()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             ) -> tuple[int, Any]:
        import http.client

        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                   **self.staff}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, json.loads(raw) if raw else None

    def _ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = self.call(method, path, body)
        assert 200 <= status < 300, (method, path, status, answer)
        return answer

    def tap(self, persona: str, flow: str, credential: str) -> dict[str, Any]:
        """One tap over the API (demo insert, credential, remove); the final snapshot."""
        state = lambda: self._ok("GET", "/v1/state")  # noqa: E731
        wait_for(lambda: state()["state"] == "idle", what="idle")
        self._ok("POST", "/v1/flow", {"flow": flow})
        self._ok("POST", "/v1/demo/insert", {"persona": persona})
        snap = wait_for(lambda: (s := state())["state"] in ("awaiting_credential", "error")
                        and s, what="credential prompt")
        if snap["state"] == "awaiting_credential":
            self._ok("POST", "/v1/credential", {"session_id": snap["session_id"],
                                                "credential": credential,
                                                "confirm_last_try": False})
            snap = wait_for(lambda: (s := state())["state"] in ("result", "error") and s,
                            what="verdict")
        self._ok("POST", "/v1/demo/remove", {})
        return dict(snap)
