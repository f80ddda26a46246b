"""Reader watcher diffs, backoff and resilience; the SSE hub's bounded queues; log redaction."""

from __future__ import annotations

import io
import logging
import queue
import time

import pytest
from test_session_rig import FakeReader

from agent.service.events import EventHub, ReaderEvent, ReaderEventKind, TooManySubscribersError
from agent.service.logging import TRAFFIC, RedactionFilter, setup_logging
from agent.service.watcher import ReaderWatcher, source_for_locator
from card.errors import NoReaderError, TransportError


class FlakyReader(FakeReader):
    def has_card(self) -> bool:
        raise TransportError("reader hiccup")


def _kinds(events: list[ReaderEvent]) -> list[tuple[str, str]]:
    return [(str(e.kind), e.reader) for e in events]


def test_poll_diffs_added_and_removed_sets():
    readers: list[FakeReader] = []
    events: list[ReaderEvent] = []
    w = ReaderWatcher(lambda: list(readers), events.append)
    assert w.poll_once() and events == []
    a, b = FakeReader("a"), FakeReader("b")
    readers += [a, b]
    a.insert()
    w.poll_once()
    assert _kinds(events) == [("reader_added", "a"), ("reader_added", "b"),
                              ("card_inserted", "a")]
    events.clear()
    a.remove()
    readers.remove(b)
    w.poll_once()
    assert _kinds(events) == [("card_removed", "a"), ("reader_removed", "b")]
    events.clear()
    w.poll_once()
    assert events == []  # nothing changed, nothing reported
    assert set(w.readers()) == {"a"} and not w.has_card("a")


def test_service_failure_reports_everything_gone_once_then_recovers():
    state = {"fail": False}
    r = FakeReader("r")
    r.insert()
    events: list[ReaderEvent] = []

    def source():
        if state["fail"]:
            raise NoReaderError("SCARD_E_NO_SERVICE")
        return [r]

    w = ReaderWatcher(source, events.append)
    w.poll_once()
    events.clear()
    state["fail"] = True
    assert w.poll_once() is False
    assert _kinds(events) == [("card_removed", "r"), ("reader_removed", "r"),
                              ("watch_failed", "")]
    events.clear()
    assert w.poll_once() is False and events == []  # reported once
    state["fail"] = False
    assert w.poll_once() is True
    assert _kinds(events) == [("reader_added", "r"), ("card_inserted", "r")]


def test_flaky_reader_and_failing_handler_do_not_stop_the_watcher():
    good, flaky = FakeReader("good"), FlakyReader("flaky")
    good.insert()
    seen: list[ReaderEvent] = []

    def handler(e: ReaderEvent) -> None:
        seen.append(e)
        raise RuntimeError("handler bug")

    w = ReaderWatcher(lambda: [good, flaky], handler, interval_s=0.02)
    w.start()
    try:
        deadline = time.monotonic() + 2
        while w.polls < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.polls >= 5
        assert ReaderEvent(ReaderEventKind.CARD_INSERTED, "good") in seen
        assert set(w.readers()) == {"good", "flaky"} and not w.has_card("flaky")
    finally:
        w.stop()


def test_backoff_while_the_service_is_down():
    def down():
        raise NoReaderError("down")

    w = ReaderWatcher(down, lambda e: None, interval_s=0.02, max_backoff_s=0.3)
    w.start()
    time.sleep(1.0)
    w.stop()
    # 1 s at 20 ms would be ~50 polls; doubling up to 300 ms gives far fewer.
    assert 3 <= w.polls <= 10


def test_emulator_locator_source():
    source = source_for_locator("emulator:yamada-taro")
    (reader,) = source()
    assert reader.has_card()
    assert source()[0] is reader  # opened once, then the same reader


def test_hub_queues_are_bounded_and_keep_the_newest():
    hub = EventHub(maxsize=4, max_subscribers=2)
    sub = hub.subscribe({"seq": 0})
    for seq in range(1, 20):
        hub.publish({"seq": seq})
    got = []
    while True:
        try:
            got.append(sub.get(timeout=0.01))
        except queue.Empty:
            break
    assert [g["seq"] for g in got if g] == [16, 17, 18, 19]
    hub.subscribe({"seq": 0})
    with pytest.raises(TooManySubscribersError):
        hub.subscribe({"seq": 0})
    sub.close()
    assert hub.subscriber_count == 1
    hub.close()


def test_setup_logging_redacts_and_warns_about_traffic():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("TRAFFIC", stream=False)
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactionFilter())
        root.addHandler(handler)
        assert root.level == TRAFFIC
        logging.getLogger("x").info("number %s, password=%s", "123456789018", "MYNA2026")
        text = stream.getvalue()
        assert "123456789018" not in text and "MYNA2026" not in text
        assert "<redacted" in text
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
