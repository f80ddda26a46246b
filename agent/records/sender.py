"""Delivery: one thread posts the outbox, oldest first, to the operator's receiver.

HTTPS only, through urllib3 with an SSL context that trusts only ``handoff.ca_file`` (the
operator's CA, pinned; system roots when none is given) and presents ``client_cert`` when set.
Each POST carries ``Idempotency-Key: <record id>``, so a record sent again after a crash is
recognised. 2xx: the row is deleted and one line (record id, time) is appended to
``delivered.jsonl``. 4xx (except 408/429): dead letter. Anything else, including timeouts,
refused connections and TLS failures: the same row is retried after an exponential backoff with
jitter, capped, and nothing after it is sent first (order is kept).
"""

from __future__ import annotations

import json
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import urllib3

from agent.records.outbox import Outbox

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 300.0
IDLE_POLL_S = 5.0
RETRYABLE_4XX = (408, 425, 429)
CONTENT_TYPE = "application/jose"


@dataclass(frozen=True, slots=True)
class HandoffTarget:
    url: str
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    timeout: float = 10.0

    @classmethod
    def from_config(cls, handoff: object) -> HandoffTarget:
        return cls(getattr(handoff, "url", ""), getattr(handoff, "ca_file", ""),
                   getattr(handoff, "client_cert", ""), getattr(handoff, "client_key", ""),
                   float(getattr(handoff, "timeout", 10.0)))

    def ssl_context(self) -> ssl.SSLContext:
        if self.ca_file:
            ctx = ssl.create_default_context(cafile=os.path.expanduser(self.ca_file))
        else:
            ctx = ssl.create_default_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.client_cert:
            ctx.load_cert_chain(os.path.expanduser(self.client_cert),
                                os.path.expanduser(self.client_key) or None)
        return ctx

    def pool(self) -> urllib3.PoolManager:
        return urllib3.PoolManager(
            ssl_context=self.ssl_context(), retries=False, maxsize=1,
            timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout))


def backoff_s(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: a random wait in [half, all] of base·2^n, capped."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempts, 30))
    return ceiling * (0.5 + 0.5 * rng())


def describe(exc: BaseException) -> str:
    """A one-line reason without URLs' query strings or payloads (it lands in the outbox)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS: {seen.verify_message or seen.reason}"
        if isinstance(seen, ssl.SSLError):
            return f"TLS: {seen.reason or seen}"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
        if not isinstance(seen, BaseException):
            break
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "timed out"
    return type(exc).__name__


class Sender:
    """Background delivery: ``start()``, ``wake()`` after a commit, ``stop()``."""

    def __init__(self, outbox: Outbox, target: HandoffTarget, *,
                 delivered_log: Path | None = None) -> None:
        self.outbox = outbox
        self.target = target
        self.delivered_log = delivered_log or outbox.state_dir / "delivered.jsonl"
        self.last_error: str | None = None
        self.delivered_count = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: urllib3.PoolManager | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="myna-records-sender",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.send_due()
            except Exception:  # the thread must outlive any surprise; the row stays
                logger.exception("records sender failed; retrying")
                wait = BACKOFF_BASE_S * 4
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()

    def send_due(self) -> float:
        """Send the oldest pending row if it is due; returns how long to wait before the next
        attempt (0: go on at once)."""
        due = self.outbox.next_due()
        if due is None:
            return IDLE_POLL_S
        now = time.time()
        if due.next_try > now:
            # Wake at least every IDLE_POLL_S: `myna records retry` (another process) may
            # have made the row due now.
            return min(due.next_try - now, IDLE_POLL_S)
        outcome = self._post(due.record_id, due.jws)
        if outcome == "ok":
            self.outbox.delivered(due.record_id)
            self._audit(due.record_id)
            self.delivered_count += 1
            self.last_error = None
            return 0
        if outcome.startswith("HTTP 4"):
            self.outbox.dead_letter(due.record_id, outcome)
            logger.warning("record %s refused by the receiver (%s): dead letter",
                           due.record_id, outcome)
            return 0
        self.last_error = outcome
        wait = backoff_s(due.attempts)
        self.outbox.retry_later(due.record_id, time.time() + wait, outcome)
        logger.info("record %s not delivered (%s); retry in %.1fs", due.record_id, outcome,
                    wait)
        return wait

    def _post(self, record_id: str, jws: str) -> str:
        if self._pool is None:
            try:
                self._pool = self.target.pool()
            except (OSError, ssl.SSLError) as e:
                return f"TLS setup: {describe(e)}"
        try:
            resp = self._pool.request(
                "POST", self.target.url, body=jws.encode("ascii"),
                headers={"Content-Type": CONTENT_TYPE, "Idempotency-Key": record_id},
                redirect=False, preload_content=True)
        except urllib3.exceptions.HTTPError as e:
            self._pool.clear()
            return describe(e)
        if 200 <= resp.status < 300:
            return "ok"  # the receiver committed it; its body is not ours to trust
        if 400 <= resp.status < 500 and resp.status not in RETRYABLE_4XX:
            return f"HTTP {resp.status}"
        return f"retry: HTTP {resp.status}"

    def _audit(self, record_id: str) -> None:
        line = json.dumps({"record_id": record_id,
                           "delivered": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        fd = os.open(self.delivered_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as f:
            f.write(line + "\n")


def probe(target: HandoffTarget) -> tuple[bool, str]:
    """One TLS handshake and HEAD-less GET to the receiver, for ``myna doctor``: (ok, why)."""
    try:
        pool = target.pool()
        resp = pool.request("GET", target.url, redirect=False, preload_content=True)
    except (OSError, ssl.SSLError, urllib3.exceptions.HTTPError) as e:
        return False, describe(e)
    return True, f"TLS ok, HTTP {resp.status}"
