"""``myna demo``: the whole product on one machine with no hardware (design §3).

Starts the agent (``AgentService``) on an in-process ``EmulatedReader`` with the emulator's
test trust exported into a private temporary directory (test roots, test CRL, CVC issuer
keys), then the kiosk UI as a *separate process* (``python -m kiosk_ui --demo``) so the UI
never shares memory with the agent. The kiosk server also serves the demo panel at
``/demo``, which relays to the agent's ``/v1/demo/*`` endpoints.

Ctrl-C, SIGTERM or SIGHUP (a supervisor, a closed terminal) stop both: the kiosk child runs in
its own session, so only this process stops it, and always does before exiting. The port is
checked before anything starts, and "ready" is printed only after the child has bound it.
This module is CLI wiring, so it may import ``card.emulator`` (docs/architecture.md, Rules).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.service.config import AgentConfig, config_from_mapping

log = logging.getLogger(__name__)
UNIX_PATH_MAX = 100  # sun_path holds 108 bytes on Linux; stay clear of the edge

# The demo's own staff account (test data, printed with the URLs): a supervisor who may run the
# number flow, so every staff screen can be tried. A real kiosk starts with none (deploy/README).
DEMO_STAFF_ID = "demo"
DEMO_STAFF_PASSWORD = "Demo-staff-2026"  # noqa: S105 - demo data, printed by `myna demo`


def demo_config(
    workdir: Path,
    *,
    port: int = 0,
    credential_s: float = 30.0,
    result_s: float = 60.0,
    allow_last_try: bool = True,
    cvc_keys: bool = True,
    extra_sections: dict[str, Any] | None = None,
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
            "reader": {"locator": "emulator:yamada-taro", "allow_virtual": True},
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
        | (extra_sections or {})
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
def demo_agent(workdir: Path, *, staff_clock: Any = None, **config_kw: Any
               ) -> Iterator[DemoAgent]:
    """Run the demo agent (emulated reader, no card inserted) for the ``with`` block;
    ``staff_clock`` moves staff sign-in delays and idle expiry in tests."""
    from agent.service.agent_service import AgentService
    from card.transports.emulated import EmulatedReader

    config = demo_config(workdir, **config_kw)
    reader = EmulatedReader("Myna demo reader")
    service = AgentService(config, demo_reader=reader, staff_clock=staff_clock)
    from agent.staff import Role

    if service.staff_store.get(DEMO_STAFF_ID) is None:
        service.staff_store.add(DEMO_STAFF_ID, DEMO_STAFF_PASSWORD, Role.SUPERVISOR,
                                my_number=True)
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
    proc: subprocess.Popen[Any] | None = None,
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


KIOSK_ANNOUNCE = "kiosk UI on http://"  # the line python -m kiosk_ui prints once it is bound
KIOSK_STOP_S = 5.0


class Stopped(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP: stop through every ``finally``."""


class PortTakenError(RuntimeError):
    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port} (port {port}): {reason}")


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` once, as the kiosk server will, so a taken port fails before we start.

    :raises PortTakenError: naming the port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option as the server: a port in TIME_WAIT is free for it, and so for us.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise PortTakenError(host, port, e.strerror or str(e)) from e


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into ``Stopped`` for the ``with`` block (main thread only).

    After the first one all three are ignored, so a second signal cannot cut short the cleanup
    that stops the child process.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def handler(signum: int, _frame: object) -> None:
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


class KioskProcess:
    """The kiosk UI server as a child process that cannot outlive us.

    It runs in its own session (a terminal's Ctrl-C or hang-up reaches only us; we stop it).
    Its stderr is forwarded line by line; the announce line tells us it has bound its port.
    """

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
            env=env,
        )
        self.bound = threading.Event()
        self._forwarder = threading.Thread(target=self._forward, name="kiosk-stderr", daemon=True)
        self._forwarder.start()

    def _forward(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.startswith(KIOSK_ANNOUNCE):
                self.bound.set()
            sys.stderr.write(line)
            sys.stderr.flush()

    def wait_bound(self, timeout_s: float) -> None:
        """Return once the child announced its port.

        :raises RuntimeError: the child exited first (e.g. could not bind).
        :raises TimeoutError: it neither bound nor exited in time.
        """
        deadline = time.monotonic() + timeout_s
        while not self.bound.wait(0.05):
            if self.proc.poll() is not None:
                self._forwarder.join(1.0)  # let its last words (the bind error) reach stderr
                raise RuntimeError(f"kiosk UI process exited with status {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("kiosk UI did not start in time")

    def wait(self) -> int:
        return self.proc.wait()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 5 s) and reap it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(KIOSK_STOP_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._forwarder.join(1.0)


def run_demo(
    host: str = "127.0.0.1", port: int = 8080, persona: str = "yamada-taro", out: Any = None,
    receiver: bool = False,
) -> int:
    """Run agent + kiosk UI until Ctrl-C or SIGTERM; only the CLI's ``out`` is printed to."""
    from card.emulator import PERSONAS

    out = out or sys.stdout
    if persona not in PERSONAS:
        print(f"myna demo: unknown persona {persona!r}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        with stop_on_signals():
            check_port_free(host, port)
            return _run_demo(host, port, persona, out, started, receiver)
    except KeyboardInterrupt:  # Ctrl-C, or Stopped (SIGTERM/SIGHUP)
        return 0
    except PortTakenError as e:
        print(f"myna demo: {e}", file=sys.stderr)
        return 1


def _run_demo(host: str, port: int, persona: str, out: Any, started: float,
              receiver: bool) -> int:
    from card.emulator import PERSONAS

    with tempfile.TemporaryDirectory(prefix="myna-demo-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)
        with contextlib.ExitStack() as stack:
            extra: dict[str, Any] = {}
            if receiver:
                from agent.cli.demo_receiver import demo_receiver
                from card.emulator import export_trust

                trust_dir = workdir / "trust"
                trust_dir.mkdir(mode=0o700, exist_ok=True)
                export_trust(trust_dir)
                rx = stack.enter_context(demo_receiver(workdir, trust_dir))
                extra = rx.agent_sections
                print(f"myna demo: receiver      {rx.url} (records: myna receiver export "
                      f"--config {rx.config_file})", file=out)
            agent = stack.enter_context(demo_agent(workdir, extra_sections=extra))
            cmd = kiosk_command(agent.url, agent.config.token_path, host, port, True, persona)
            # The one-time pairing secret goes to the kiosk process in its environment (only
            # this user can read it there) and to the person in the printed URL.
            pairing_secret = secrets.token_urlsafe(32)
            env = {**os.environ, "MYNA_KIOSK_PAIRING_SECRET": pairing_secret}
            kiosk = KioskProcess(cmd, env=env)
            try:
                kiosk.wait_bound(20.0)
                wait_for_http(host, port, "/", proc=kiosk.proc)
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
                print(f"           staff sign-in {DEMO_STAFF_ID} / {DEMO_STAFF_PASSWORD} "
                      "(demo data)", file=out)
                print(f"           agent API     {agent.url}", file=out)
                print(f"           ready in {elapsed:.2f} s; Ctrl-C stops everything", file=out)
                out.flush()
                kiosk.wait()
                return 1  # the UI process ended on its own
            except (RuntimeError, TimeoutError) as e:
                print(f"myna demo: {e} (port {port})", file=sys.stderr)
                return 1
            finally:
                kiosk.stop()
