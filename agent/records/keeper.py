"""``RecordKeeper``: what the agent service holds to keep records: policy, kiosk key, outbox and
sender, built from the ``[records]`` and ``[handoff]`` configuration (duck-typed, so this
package does not import the service)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.records.outbox import Outbox, Stats
from agent.records.record import RecordDraft, RecordPolicy, build_record
from agent.records.sender import HandoffTarget, Sender
from agent.records.signing import KioskKey

logger = logging.getLogger(__name__)

KEY_FILE = "kiosk-signing.jwk"


def state_dir_of(config: Any) -> Path:
    return Path(config.records.state_dir).expanduser()


def key_path_of(config: Any) -> Path:
    return state_dir_of(config) / KEY_FILE


class RecordKeeper:
    def __init__(self, config: Any, *, max_page_count: int | None = None) -> None:
        records = config.records
        self.policy = RecordPolicy.from_config(records)
        self.viewer_url: str = records.viewer_url
        self.key = KioskKey.load(key_path_of(config))
        self.outbox = Outbox(state_dir_of(config), max_pending=records.max_pending,
                             max_bytes=records.max_bytes, max_page_count=max_page_count)
        target = HandoffTarget.from_config(config.handoff)
        self.sender: Sender | None = Sender(self.outbox, target) if target.url else None

    def start(self) -> None:
        if self.sender is not None:
            self.sender.start()

    def stop(self) -> None:
        if self.sender is not None:
            self.sender.stop()
        self.outbox.close()

    def draft(self, flow: str) -> RecordDraft:
        return RecordDraft(self.policy.kiosk_id, flow)

    def refusal(self) -> str | None:
        """Why a new tap must be refused before any PIN is asked (None: go ahead)."""
        return self.outbox.refusal()

    def commit(self, draft: RecordDraft | None, flow: str, verdict: Mapping[str, Any],
               staff_id: str | None) -> str:
        """Build, sign and durably commit the record; returns its id.

        :raises OutboxFullError: no room (the verdict must not be shown).
        """
        record = build_record(draft or self.draft(flow), verdict, self.policy,
                              staff_id=staff_id)
        self.outbox.add(record["record_id"], self.key.sign(record))
        if self.sender is not None:
            self.sender.wake()
        return str(record["record_id"])

    def stats(self) -> Stats:
        return self.outbox.stats()
