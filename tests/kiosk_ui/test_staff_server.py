"""Brute force through the kiosk server is bounded, and no staff password lands anywhere.

The kiosk server (Flask test client) in front of the real agent (``demo_agent``) with the
agent's staff clock injected: a flood of sign-in attempts gets one password checked until the
delay passes; however long it goes on, at most five guesses are ever checked before the account
locks, and the right password does not open a locked account. Afterwards every file the agent
wrote and every log record at every level is scanned for every password typed."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cli.demo import DEMO_STAFF_PASSWORD, demo_agent
from agent.staff import Role
from kiosk_ui import create_app
from tests.kiosk_ui.helpers import PAIRING_SECRET, csrf, paired_client
from tests.support.clock import ManualClock
from tests.support.privacy import LogCapture, secret_patterns

CLERK_PASSWORD = "Clerk-pass-77"  # noqa: S105 - test data
GUESSES = [f"Wrong-guess-{n}" for n in range(50)]


@pytest.fixture
def capture() -> Iterator[LogCapture]:
    handler = LogCapture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(1)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


def test_brute_force_is_bounded_and_no_password_is_kept(tmp_path: Path,
                                                        capture: LogCapture) -> None:
    clock = ManualClock(3_000_000.0)
    with demo_agent(tmp_path, staff_clock=clock) as agent:
        svc = agent.service
        svc.staff_store.add("sato", CLERK_PASSWORD, Role.CLERK)
        app = create_app({"TESTING": True, "AGENT_URL": agent.url,
                          "AGENT_TOKEN_FILE": str(agent.config.token_path),
                          "PAIRING_SECRET": PAIRING_SECRET})
        client = paired_client(app)
        token = csrf(client)

        def login(staff_id: str, password: str) -> tuple[int, str]:
            r = client.post("/staff/api/login", json={"staff_id": staff_id, "password": password},
                            headers={"X-CSRF-Token": token})
            body: Any = r.get_json()
            return r.status_code, body["code"] if r.status_code != 200 else "OK"

        # A flood with no time passing: one password checked, the rest refused unchecked.
        flood = [login("sato", g) for g in GUESSES[:30]]
        assert flood[0] == (403, "STAFF_LOGIN_FAILED")
        assert set(flood[1:]) == {(429, "STAFF_RETRY_LATER")}
        assert svc.staff_auth.verifications == 1
        # An attacker who tries once a second: the delays grow (1, 2, 4, 8 s), so the fifth
        # guess is checked only 15 s in, and it locks the account: five guesses in all, ever.
        answers = []
        for guess in GUESSES[30:50]:
            clock.now += 1
            answers.append(login("sato", guess))
        checked = [i + 1 for i, a in enumerate(answers) if a[0] == 403]
        assert checked[:4] == [1, 3, 7, 15]
        assert answers[14] == (403, "STAFF_LOCKED")
        assert svc.staff_store.get("sato").failed == 5  # type: ignore[union-attr]
        clock.now += 86400
        assert login("sato", CLERK_PASSWORD) == (403, "STAFF_LOCKED")
        # The same bound for an ID that does not exist, with the same answers.
        assert [login("ghost", g) for g in GUESSES[:2]] == flood[:2]
        # A supervisor still signs in, and the reveal password goes through the same counter.
        assert login("demo", DEMO_STAFF_PASSWORD) == (200, "OK")
        stored = svc.staff_store.path.read_bytes()
        assert stored.count(b"$argon2id$") == 2
    typed = [CLERK_PASSWORD, DEMO_STAFF_PASSWORD, *GUESSES]
    patterns = [p for i, secret in enumerate(typed) for p in secret_patterns(f"pw{i}", secret)]
    corpus = {"log": "\n".join(capture.lines)}
    for root, _dirs, files in os.walk(tmp_path):
        for name in files:
            path = Path(root) / name
            corpus[str(path)] = path.read_bytes().decode("latin-1")
    assert any("staff.db" in p for p in corpus) and any("audit.jsonl" in p for p in corpus)
    # The capture really saw the run's logging (the agent on waitress logs no requests).
    assert any("staff demo signed in" in line for line in capture.lines)
    leaks = [f"{label} in {where}" for where, text in corpus.items()
             for label, pattern in patterns if pattern.search(text)]
    assert not leaks, leaks[:10]
