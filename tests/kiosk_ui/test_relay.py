"""The kiosk's relay of the agent's event stream (``AgentClient.events``) over real HTTP."""

from __future__ import annotations

from pathlib import Path

from agent.cli.demo import demo_config
from agent.service.agent_service import AgentService
from card.transports.emulated import EmulatedReader
from kiosk_ui.agent_client import AgentClient, Snapshot


def test_relay_waits_for_the_keepalive_beyond_the_connect_timeout(tmp_path: Path) -> None:
    """A quiet screen is not an unreachable agent: the relay's read timeout is the long one.

    The connect timeout (0.3 s here) is far shorter than the agent's keepalive (1 s): the
    stream must deliver the keepalive, not end with "agent unavailable" (the screen flashed
    「ただいまご利用いただけません」 every few seconds when the connect timeout was kept).
    """
    config = demo_config(tmp_path)
    with AgentService(config, demo_reader=EmulatedReader("relay"), keepalive_s=1.0) as svc:
        stream = AgentClient(svc.url, token=svc.token, timeout_s=0.3).events(read_timeout_s=30)
        try:
            assert isinstance(next(stream), Snapshot)
            # The reader appearing may publish one more snapshot; then comes silence, and the
            # keepalives after more than 0.3 s of it, twice.
            keepalives = 0
            while keepalives < 2:
                keepalives += next(stream) is None
        finally:
            stream.close()


def test_agent_keepalive_is_frequent_enough_for_proxies() -> None:
    from agent.service import api

    assert api.KEEPALIVE_S <= 5.0
