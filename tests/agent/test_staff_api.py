"""Staff sessions enforced by the agent (not the page): every staff-only action without a staff
session, with an expired one, with another browser's, with another member's or with the wrong
role is refused (403/409) and changes nothing: the card's PIN counters, its APDU log, the
agent's snapshot and the audit file are compared before and after. Time is injected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_service_rig import AT, Http, SseReader, service_config

from agent.service.agent_service import AgentService, CardFlowBackend
from card.emulator import PERSONAS
from card.ids import AID, InputHelperEF, JpkiEF, SurfaceEF
from card.transports.emulated import EmulatedReader
from tests.support.clock import ManualClock
from tests.support.staff import TEST_STAFF_PASSWORD, add_staff

pytestmark = pytest.mark.emulator_only

PERSONA = PERSONAS["yamada-taro"]
IDLE_S = 300.0
BROWSER = "paired-browser-1"
COUNTERS = ((AID.JPKI, JpkiEF.SIGN_PIN), (AID.JPKI, JpkiEF.AUTH_PIN),
            (AID.SURFACE, SurfaceEF.MATCH_B), (AID.INPUT_HELPER, InputHelperEF.PIN))


@dataclass
class Rig:
    svc: AgentService
    reader: EmulatedReader
    clock: ManualClock
    http: Http
    sse: SseReader

    seen: int = 0

    def wait(self, pred: Any) -> tuple[int, dict[str, Any]]:
        """The next snapshot (after the last one waited for) that matches."""
        i, snap = self.sse.wait(pred, start=self.seen)
        self.seen = i + 1
        return i, snap

    def client(self, staff_id: str | None = None, browser: str | None = BROWSER) -> Http:
        """A client of the agent (as the kiosk server is), signed in as ``staff_id``."""
        c = Http(self.svc.url, self.svc.token)
        c.staff = {"X-Myna-Browser": browser} if browser else {}
        if staff_id is not None:
            status, body = c.call("POST", "/v1/staff/login",
                                  {"staff_id": staff_id, "password": TEST_STAFF_PASSWORD})
            assert status == 200, body
            c.staff["X-Myna-Staff"] = body["token"]
        return c

    def frozen(self) -> tuple[Any, ...]:
        """Everything a refused request must leave alone."""
        card = self.reader.card
        snap = self.http.state()
        audit = Path(self.svc.config.log.audit_file)
        return (
            tuple(card.tries_left(ap, ef) for ap, ef in COUNTERS) if card else None,
            len(card.apdu_log) if card else None,
            snap["seq"], snap["state"], snap["flow"], snap["session_id"],
            audit.read_text() if audit.exists() else "",
        )


@pytest.fixture
def rig(tmp_path: Path, trust_dir: Path) -> Iterator[Rig]:
    config = service_config(tmp_path, trust_dir, staff={"idle_lock_s": IDLE_S})
    clock = ManualClock(1_000_000.0)
    reader = EmulatedReader("staff desk")
    svc = AgentService(config, demo_reader=reader, backend=CardFlowBackend(config, at=lambda: AT),
                       staff_clock=clock)
    svc.start()
    add_staff(svc, "boss", "supervisor", my_number=True)
    add_staff(svc, "clerk", "clerk", my_number=False)
    add_staff(svc, "numclerk", "clerk", my_number=True)
    http_ = Http(svc.url, svc.token)
    sse = SseReader(http_)
    sse.wait(lambda s: s["state"] == "idle")
    yield Rig(svc, reader, clock, http_, sse)
    sse.close()
    svc.stop()


def _awaiting(rig: Rig, boss: Http, flow: str) -> dict[str, Any]:
    status, body = boss.call("POST", "/v1/flow", {"flow": flow})
    assert status == 200, body
    rig.svc.demo.insert("yamada-taro")  # type: ignore[union-attr]
    _, snap = rig.wait(lambda s: s["state"] == "awaiting_credential" and s["flow"] == flow)
    return snap


def _callers(rig: Rig, boss: Http) -> dict[str, Http]:
    expired = rig.client("numclerk", browser="old-tab")
    rig.clock.now += IDLE_S / 2
    boss.call("POST", "/v1/staff/touch", {})
    rig.clock.now += IDLE_S / 2 + 1
    rig.svc.staff_sessions.sweep()  # its sign-out line is written before the comparison
    stolen = Http(rig.svc.url, rig.svc.token)
    stolen.staff = {"X-Myna-Staff": boss.staff["X-Myna-Staff"], "X-Myna-Browser": "other"}
    unbound = Http(rig.svc.url, rig.svc.token)
    unbound.staff = {"X-Myna-Staff": boss.staff["X-Myna-Staff"]}
    return {"none": rig.client(None), "expired": expired, "another-browser": stolen,
            "no-browser": unbound, "garbage": _with_token(rig, "x" * 43)}


def _with_token(rig: Rig, token: str) -> Http:
    c = rig.client(None)
    c.staff["X-Myna-Staff"] = token
    return c


def _refused(rig: Rig, caller: Http, method: str, path: str, body: dict[str, Any] | None,
             statuses: tuple[int, ...] = (403,)) -> dict[str, Any]:
    before = rig.frozen()
    status, answer = caller.call(method, path, body)
    assert status in statuses, (path, status, answer)
    assert rig.frozen() == before, path
    return answer


def test_face_refused_without_a_valid_staff_session(rig: Rig) -> None:
    boss = rig.client("boss")
    snap = _awaiting(rig, boss, "face")
    match_b = {"session_id": snap["session_id"], "credential": PERSONA.credentials.match_b}
    for name, caller in _callers(rig, boss).items():
        answer = _refused(rig, caller, "POST", "/v1/credential", match_b)
        assert answer["error"]["code"] == "STAFF_REQUIRED", name
        _refused(rig, caller, "POST", "/v1/flow", {"flow": "number"})
    # The one signed-in member on this browser runs it: one VERIFY, attributed to them.
    status, _ = boss.call("POST", "/v1/credential", match_b)
    assert status == 202
    rig.wait(lambda s: s["state"] == "result")
    rig.svc.demo.remove()  # type: ignore[union-attr]
    rig.wait(lambda s: s["state"] == "idle")
    taps = [json.loads(x) for x in Path(rig.svc.config.log.audit_file).read_text().splitlines()
            if '"event"' not in x]
    # One tap: its verdict's line, then the line of its end; both name the member.
    assert [(t["flow"], t["ended_by"], t["result"], t["staff_id"]) for t in taps] == [
        ("face", "result", "OK", "boss"), ("face", "card_removed", None, "boss")]
    assert len({t["session"] for t in taps}) == 1


def test_roles_and_permissions(rig: Rig) -> None:
    clerk = rig.client("clerk")
    # A clerk without --my-number may run the face check but not the number flow.
    answer = _refused(rig, clerk, "POST", "/v1/flow", {"flow": "number"})
    assert answer["error"]["code"] == "STAFF_FORBIDDEN"
    for path in ("/v1/staff/accounts", "/v1/staff/report?since=2026-01-01"):
        assert _refused(rig, clerk, "GET", path, None)["error"]["code"] == "STAFF_FORBIDDEN"
    assert _refused(rig, clerk, "POST", "/v1/staff/unlock",
                    {"staff_id": "numclerk"})["error"]["code"] == "STAFF_FORBIDDEN"
    status, _ = clerk.call("POST", "/v1/flow", {"flow": "face"})
    assert status == 200
    boss = rig.client("boss", browser="supervisor-tab")
    status, accounts = boss.call("GET", "/v1/staff/accounts")
    assert status == 200 and {a["staff_id"] for a in accounts} == {"boss", "clerk", "numclerk"}
    assert all("hash" not in json.dumps(a) and "argon2" not in json.dumps(a) for a in accounts)


def test_number_flow_and_reveal(rig: Rig) -> None:
    numclerk = rig.client("numclerk")
    snap = _awaiting(rig, numclerk, "number")
    status, _ = numclerk.call("POST", "/v1/credential", {
        "session_id": snap["session_id"], "credential": PERSONA.credentials.input_helper_pin})
    assert status == 202
    _, result = rig.wait(lambda s: s["state"] == "result")
    number = PERSONA.identity.my_number
    # Snapshots (the kiosk server, the event stream) carry only the last four digits.
    assert number not in json.dumps(result)
    assert result["verdict"]["identity"]["my_number_last4"] == number[-4:]
    sid = result["session_id"]
    body = {"session_id": sid, "password": TEST_STAFF_PASSWORD}
    callers = _callers(rig, numclerk)
    callers["clerk-without-permission"] = rig.client("clerk", browser="b2")
    for name, caller in callers.items():
        answer = _refused(rig, caller, "POST", "/v1/reveal", body)
        assert answer["error"]["code"] in ("STAFF_REQUIRED", "STAFF_FORBIDDEN"), name
    # Another member allowed to see numbers, but not the one who ran this check: no such result.
    _refused(rig, rig.client("boss", browser="b3"), "POST", "/v1/reveal", body, (409,))
    # The right member must type the password again; a wrong one reveals nothing.
    status, answer = numclerk.call("POST", "/v1/reveal", {"session_id": sid,
                                                          "password": "Wrong-pass-1"})
    assert status == 403 and answer["error"]["code"] == "STAFF_PASSWORD_WRONG"
    assert number not in json.dumps(answer)
    rig.clock.now += 2  # past the delay the wrong password earned
    status, answer = numclerk.call("POST", "/v1/reveal", body)
    assert status == 200 and answer == {"my_number": number}
    audit = Path(rig.svc.config.log.audit_file).read_text()
    assert number not in audit and TEST_STAFF_PASSWORD not in audit
    lines = [json.loads(x) for x in audit.splitlines()]
    reveals = [x for x in lines if x.get("event") == "reveal"]
    assert [(r["staff_id"], r["session"]) for r in reveals] == [("numclerk", sid)]
    assert reveals[0]["staff_session"] and reveals[0]["time"]
    rig.svc.demo.remove()  # type: ignore[union-attr]
    rig.wait(lambda s: s["state"] == "idle")
    lines = [json.loads(x) for x in Path(rig.svc.config.log.audit_file).read_text().splitlines()]
    taps = [x for x in lines if x.get("flow") == "number"]
    # The verdict's line, the reveal, then the line of the tap's end: all by the same member.
    assert [x.get("ended_by") or x.get("event") for x in lines
            if x in taps or x.get("event") == "reveal"] == ["result", "reveal", "card_removed"]
    assert {(t["session"], t["staff_id"], t["staff_session"]) for t in taps} == {
        (sid, "numclerk", reveals[0]["staff_session"])}


def test_idle_expiry_and_sign_out_purge_the_staff_tap(rig: Rig) -> None:
    boss = rig.client("boss")
    snap = _awaiting(rig, boss, "face")
    boss.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                         "credential": PERSONA.credentials.match_b})
    rig.wait(lambda s: s["state"] == "result" and s["verdict"])
    rig.clock.now += IDLE_S + 1
    assert rig.svc.staff_sessions.sweep() == 1
    # The agent itself ends the tap that member ran: the identity is gone, the card must leave,
    # and the kiosk goes back to the unattended flow.
    _, snap = rig.wait(lambda s: s["state"] == "awaiting_removal")
    assert snap["verdict"] is None and snap["flow"] == "sign"
    status, answer = boss.call("GET", "/v1/staff/me")
    assert status == 403 and answer["error"]["code"] == "STAFF_REQUIRED"
    rig.svc.demo.remove()  # type: ignore[union-attr]
    rig.wait(lambda s: s["state"] == "idle")
    lines = [json.loads(x) for x in Path(rig.svc.config.log.audit_file).read_text().splitlines()]
    assert {"event": "staff_signed_out", "reason": "idle", "staff_id": "boss"}.items() <= \
        next(x for x in lines if x.get("event") == "staff_signed_out").items()
    # The verdict had its line when shown; the sign-out is written, then the tap it ended.
    assert [("event", x["event"]) if "event" in x else ("tap", x["ended_by"]) for x in lines
            if x.get("flow") == "face" or x.get("event") == "staff_signed_out"] == [
        ("tap", "result"), ("event", "staff_signed_out"), ("tap", "staff_signed_out")]
    assert {x["staff_id"] for x in lines if x.get("flow") == "face"} == {"boss"}
    # Explicit sign-out works the same way; the token is dead afterwards.
    boss = rig.client("boss")
    assert boss.call("POST", "/v1/staff/logout", {})[0] == 200
    assert boss.call("POST", "/v1/flow", {"flow": "face"})[0] == 403


def test_sign_in_answers_and_lockout(rig: Rig) -> None:
    c = rig.client(None)

    def login(staff_id: str, password: str) -> tuple[int, str]:
        status, body = c.call("POST", "/v1/staff/login",
                              {"staff_id": staff_id, "password": password})
        return status, body["error"]["code"] if status != 200 else "OK"

    answers = {}
    for staff_id in ("clerk", "nobody"):
        seq = []
        for _ in range(6):
            seq.append(login(staff_id, "Wrong-pass-1"))
            seq.append(login(staff_id, "Wrong-pass-1"))  # at once: the delay refuses it
            rig.clock.now += 60
        answers[staff_id] = seq
    assert answers["clerk"] == answers["nobody"]  # an unknown ID answers like a wrong password
    assert answers["clerk"][:2] == [(403, "STAFF_LOGIN_FAILED"), (429, "STAFF_RETRY_LATER")]
    assert answers["clerk"][-2:] == [(403, "STAFF_LOCKED"), (403, "STAFF_LOCKED")]
    # Too-soon attempts cost no verification; a locked ID still costs one (the same timing as
    # an unlocked one): 4 + 2 + 2 per ID. Five wrong passwords at most were ever checked.
    assert rig.svc.staff_auth.verifications == 16
    assert login("clerk", TEST_STAFF_PASSWORD) == (403, "STAFF_LOCKED")
    boss = rig.client("boss")
    assert boss.call("POST", "/v1/staff/unlock", {"staff_id": "clerk"})[0] == 200
    assert login("clerk", TEST_STAFF_PASSWORD) == (200, "OK")
    audit = Path(rig.svc.config.log.audit_file).read_text()
    assert "nobody" not in audit and "Wrong-pass-1" not in audit
    assert '"event":"staff_unlocked","time"' in audit and '"by":"boss"' in audit


def test_disabling_an_account_ends_its_session_at_once(rig: Rig) -> None:
    clerk = rig.client("clerk")
    assert clerk.call("GET", "/v1/staff/me")[0] == 200
    rig.svc.staff_store.set_enabled("clerk", False)  # what `myna staff disable clerk` does
    status, answer = clerk.call("POST", "/v1/flow", {"flow": "face"})
    assert status == 403 and answer["error"]["code"] == "STAFF_REQUIRED"
    assert rig.http.state()["flow"] == "sign"
    assert '"reason":"account"' in Path(rig.svc.config.log.audit_file).read_text()
    rig.svc.staff_store.set_enabled("clerk", True)
    assert clerk.call("GET", "/v1/staff/me")[0] == 403  # that session stays ended


def _auth_result(rig: Rig, persona: str, pin: str) -> dict[str, Any]:
    rig.http.call("POST", "/v1/flow", {"flow": "auth"})
    rig.svc.demo.insert(persona)  # type: ignore[union-attr]
    _, snap = rig.wait(lambda s: s["state"] == "awaiting_credential" and s["flow"] == "auth")
    rig.http.call("POST", "/v1/credential", {"session_id": snap["session_id"], "credential": pin})
    _, snap = rig.wait(lambda s: s["state"] in ("result", "error")
                       or (s["state"] == "awaiting_credential" and s["error"]))
    return snap


def test_sign_in_with_ones_own_card(rig: Rig) -> None:
    from agent.cli.commands.staff_cmds import card_reference
    from agent.staff import Role

    ref = card_reference("emulator:yamada-taro")
    rig.svc.staff_store.add("cardclerk", TEST_STAFF_PASSWORD, Role.CLERK, card_ref=ref)
    c = rig.client(None)
    # A wrong PIN gives no result, and no result signs nobody in.
    snap = _auth_result(rig, "yamada-taro", "9999")
    before = rig.frozen()[:6]
    status, answer = c.call("POST", "/v1/staff/login/card", {"session_id": snap["session_id"]})
    assert status == 403 and answer["error"]["code"] == "STAFF_LOGIN_FAILED"
    assert rig.frozen()[:6] == before  # the card and the tap untouched (only an audit line)
    rig.svc.demo.remove()  # type: ignore[union-attr]
    rig.wait(lambda s: s["state"] == "idle")
    # A genuine card whose reference no account holds: refused the same way.
    snap = _auth_result(rig, "foreign-resident", PERSONAS["foreign-resident"].credentials.auth_pin)
    assert snap["state"] == "result"
    status, answer = c.call("POST", "/v1/staff/login/card", {"session_id": snap["session_id"]})
    assert status == 403 and answer["error"]["code"] == "STAFF_LOGIN_FAILED"
    rig.svc.demo.remove()  # type: ignore[union-attr]
    rig.wait(lambda s: s["state"] == "idle")
    # The member's own card, PIN and possession proven: signed in, and the card's tap ends.
    snap = _auth_result(rig, "yamada-taro", PERSONA.credentials.auth_pin)
    status, answer = c.call("POST", "/v1/staff/login/card", {"session_id": snap["session_id"]})
    assert status == 200 and answer["staff"]["staff_id"] == "cardclerk"
    rig.wait(lambda s: s["state"] == "awaiting_removal" and s["verdict"] is None)
    rig.svc.demo.remove()  # type: ignore[union-attr]
    rig.wait(lambda s: s["state"] == "idle")
    c.staff["X-Myna-Staff"] = answer["token"]
    assert c.call("POST", "/v1/flow", {"flow": "face"})[0] == 200
    assert '"method":"card"' in Path(rig.svc.config.log.audit_file).read_text()
