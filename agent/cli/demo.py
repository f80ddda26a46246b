"""``myna demo``: the whole product on one machine with no hardware (design §3).

Starts the agent (``AgentService``) on an in-process ``EmulatedReader`` with the emulator's
test trust exported into a private temporary directory (test roots, test CRL, CVC issuer
keys), then the kiosk UI as a *separate process* (``python -m kiosk_ui --demo``) so the UI
never shares memory with the agent. The kiosk server also serves the demo panel at
``/demo``, which relays to the agent's ``/v1/demo/*`` endpoints. Ctrl-C stops both.
This module is CLI wiring, so it may import ``card.emulator`` (docs/architecture.md, Rules).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.service.config import AgentConfig, config_from_mapping

log = logging.getLogger(__name__)
UNIX_PATH_MAX = 100  # sun_path holds 108 bytes on Linux; stay clear of the edge


def demo_config(
    workdir: Path,
    *,
    port: int = 0,
    credential_s: float = 30.0,
    result_s: float = 60.0,
    allow_last_try: bool = True,
    cvc_keys: bool = True,
) -> AgentConfig:
    """An agent config for the demo: test trust from ``workdir``, private token/audit files."""
    from card.emulator import export_trust

    socket_path = workdir / "agent.sock"
    use_tcp = port != 0 or len(str(socket_path)) >= UNIX_PATH_MAX
    trust_dir = workdir / "trust"
    trust_dir.mkdir(mode=0o700, exist_ok=True)
    export_trust(trust_dir)
    return config_from_mapping(
        {
            "reader": {"locator": "emulator:yamada-taro"},
            # "number" is opt-in (design §2); the demo turns it on so the staff screen can show
            # the masked My Number and its explicit reveal. The demo panel says so.
            "flows": {"enabled": ["sign", "auth", "face", "number"], "default": "sign"},
            "trust": {
                "mode": "test",
                "test_dir": str(trust_dir),
                "crl_file": str(trust_dir / "test.crl"),
                "cvc_issuer_keys": [
                    str(trust_dir / "cvc_issuer_surface.pem"),
                    str(trust_dir / "cvc_issuer_input_helper.pem"),
                ]
                if cvc_keys
                else [],
            },
            # The demo exists to show every path, including the explicit last-try confirmation.
            "pin": {"allow_last_try": allow_last_try},
            "timeouts": {"credential_s": credential_s, "result_s": result_s},
            # The kiosk reaches the agent on a Unix socket, as in deploy/ (TCP only when a port
            # is asked for, or when the work directory's path is too long for a socket name).
            "api": {
                "host": "127.0.0.1",
                "port": port,
                "token_file": str(workdir / "agent.token"),
                "socket": "" if use_tcp else str(socket_path),
                "tcp": use_tcp,
            },
            "log": {
                "audit_file": str(workdir / "audit.jsonl"),
                "hmac_key_file": str(workdir / "audit.key"),
            },
        }
    )


@dataclass
class DemoAgent:
    service: Any  # agent.service.agent_service.AgentService
    reader: Any  # card.transports.emulated.EmulatedReader
    config: AgentConfig

    @property
    def url(self) -> str:
        return str(self.service.url)


@contextlib.contextmanager
def demo_agent(workdir: Path, **config_kw: Any) -> Iterator[DemoAgent]:
    """Run the demo agent (emulated reader, no card inserted) for the ``with`` block."""
    from agent.service.agent_service import AgentService
    from card.transports.emulated import EmulatedReader

    config = demo_config(workdir, **config_kw)
    reader = EmulatedReader("Myna demo reader")
    service = AgentService(config, demo_reader=reader)
    service.start()
    try:
        yield DemoAgent(service, reader, config)
    finally:
        service.stop()


def kiosk_command(
    agent_url: str, token_file: Path, host: str, port: int, demo: bool, persona: str | None = None
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "kiosk_ui",
        "--agent-url",
        agent_url,
        "--token-file",
        str(token_file),
        "--host",
        host,
        "--port",
        str(port),
    ]
    if demo:
        cmd.append("--demo")
        if persona:
            cmd += ["--demo-persona", persona]
    return cmd


def wait_for_http(
    host: str,
    port: int,
    path: str = "/",
    timeout_s: float = 20.0,
    proc: subprocess.Popen[bytes] | None = None,
) -> float:
    """Poll until ``GET path`` answers (any HTTP status: an unpaired request is refused, but
    the server is up); return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("kiosk UI process exited")
        conn = http.client.HTTPConnection(host, port, timeout=1.0)
        try:
            conn.request("GET", path)
            conn.getresponse()
            return time.monotonic() - start
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise TimeoutError(f"nothing served on {host}:{port}")


def run_demo(
    host: str = "127.0.0.1", port: int = 8080, persona: str = "yamada-taro", out: Any = None
) -> int:
    """Run agent + kiosk UI until Ctrl-C; the only place that prints is the CLI's ``out``."""
    from card.emulator import PERSONAS

    out = out or sys.stdout
    if persona not in PERSONAS:
        print(f"myna demo: unknown persona {persona!r}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="myna-demo-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)
        with demo_agent(workdir) as agent:
            cmd = kiosk_command(agent.url, agent.config.token_path, host, port, True, persona)
            # The one-time pairing secret goes to the kiosk process in its environment (only
            # this user can read it there) and to the person in the printed URL.
            pairing_secret = secrets.token_urlsafe(32)
            env = {**os.environ, "MYNA_KIOSK_PAIRING_SECRET": pairing_secret}
            proc = subprocess.Popen(cmd, env=env)  # noqa: S603 - our own interpreter and module
            try:
                wait_for_http(host, port, "/", proc=proc)
                elapsed = time.monotonic() - started
                p = PERSONAS[persona]
                print(
                    f"myna demo: kiosk screen  http://{host}:{port}/pair?s={pairing_secret}",
                    file=out,
                )
                print("           (opening it pairs that browser; it works once)", file=out)
                print(f"           staff screen  http://{host}:{port}/staff", file=out)
                print(f"           demo panel    http://{host}:{port}/demo/", file=out)
                print(
                    f"           persona {persona}: signature password "
                    f"{p.credentials.sign_password} (test data)",
                    file=out,
                )
                print(f"           ready in {elapsed:.2f} s; Ctrl-C stops everything", file=out)
                out.flush()
                proc.wait()
                return 1  # the UI process ended on its own
            except KeyboardInterrupt:
                return 0
            except (RuntimeError, TimeoutError) as e:
                print(f"myna demo: {e}", file=sys.stderr)
                return 1
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
