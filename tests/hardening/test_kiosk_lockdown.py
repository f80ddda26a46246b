"""The real Chromium kiosk on Xvfb, driven by xdotool as a walk-up user with a USB keyboard.

The real launcher (deploy/chromium-kiosk.sh) runs the real kiosk UI under the real managed
policy (deploy/chromium-policy.json). Debian's chromium reads policies only from
/etc/chromium/policies/managed, so the browser runs in a private mount namespace where a
temporary directory is bound over /etc/chromium: the machine's own Chromium (and every other
test's) never sees the policy. It needs root (CI is), unshare, Xvfb, xdotool and chromium.

The supervisor here is a shell loop doing what myna-chromium.service's ``Restart=always``,
``RestartSec=1`` does (CI has no systemd user manager); the unit itself is checked by
``systemd-analyze verify`` in tests/nfc/test_nfc_deploy.py.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "deploy" / "chromium-kiosk.sh"
POLICY = ROOT / "deploy" / "chromium-policy.json"
TITLE = "本人確認"  # kiosk.html's <title>
WAIT_S = 90.0  # generous: two cores shared by many test runs
SETTLE_S = 2.0  # how long a shortcut gets to open something before the windows are counted
ESCAPES = ["ctrl+n", "ctrl+t", "ctrl+j", "ctrl+s", "ctrl+p", "ctrl+shift+n", "ctrl+shift+i",
           "ctrl+h", "ctrl+o", "F1", "F12", "ctrl+w", "alt+F4"]

TOOLS = ("unshare", "setpriv", "Xvfb", "xdotool", "chromium")
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private mount namespace"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason=f"needs {', '.join(TOOLS)} (scripts/install-system-deps.sh)"),
]


def _exe(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, name
    return path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process group this test started (by its own id), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()


def _wait_for(what: str, check, timeout: float = WAIT_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"gave up waiting for {what}")


class Display:
    def __init__(self, number: str) -> None:
        self.env = {**os.environ, "DISPLAY": f":{number}"}

    def xdotool(self, *args: str) -> list[str]:
        res = subprocess.run([_exe("xdotool"), *args], env=self.env, capture_output=True,  # noqa: S603
                             text=True, timeout=30, check=False)
        return res.stdout.split()

    def windows(self) -> list[str]:
        return self.xdotool("search", "--onlyvisible", "--class", "chromium")

    def titles(self) -> list[str]:
        out = []
        for w in self.windows():
            res = subprocess.run([_exe("xdotool"), "getwindowname", w], env=self.env,  # noqa: S603
                                 capture_output=True, text=True, timeout=30, check=False)
            out.append(res.stdout.strip())
        return out

    def kiosk_window(self) -> str | None:
        windows = self.windows()
        titles = self.titles()
        return windows[0] if len(windows) == 1 and titles == [TITLE] else None


@pytest.fixture
def display() -> Iterator[Display]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(  # noqa: S603
        [_exe("Xvfb"), "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
         "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()
    try:
        assert number.isdigit(), "Xvfb did not report its display"
        yield Display(number)
    finally:
        _stop(xvfb)


@pytest.fixture
def pairing_file() -> Iterator[Path]:
    """Where the launcher (as nobody) writes each launch's pairing secret for the kiosk server."""
    directory = Path(tempfile.mkdtemp(prefix="myna-kiosk-pair-"))
    nobody = pwd.getpwnam("nobody")
    os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    try:
        yield directory / "secret"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def kiosk_url(pairing_file: Path) -> Iterator[str]:
    ui = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "kiosk_ui", "--agent-url", "http://127.0.0.1:9", "--port", "0",
         "--token-file", "/nonexistent", "--pairing-file", str(pairing_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert ui.stderr is not None
        line = ui.stderr.readline().decode()
        while line and not line.startswith("kiosk UI on http://127.0.0.1:"):
            line = ui.stderr.readline().decode()  # e.g. the pairing notice comes first
        assert line.startswith("kiosk UI on http://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        _stop(ui)


@pytest.fixture
def kiosk(display: Display, kiosk_url: str, pairing_file: Path) -> Iterator[Path]:
    """The launcher under a restart-always loop, as ``nobody``, with the policy applied."""
    # Not pytest's tmp_path: its parents are private to root, and the browser runs as nobody.
    tmp_path = Path(tempfile.mkdtemp(prefix="myna-kiosk-lockdown-"))
    etc = tmp_path / "etc-chromium"
    (etc / "policies" / "managed").mkdir(parents=True)
    if Path("/etc/chromium/master_preferences").exists():
        shutil.copy("/etc/chromium/master_preferences", etc)
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    assert policy["URLAllowlist"] == ["http://127.0.0.1:8080"]
    policy["URLAllowlist"] = [kiosk_url]  # the test server's port instead of 8080
    (etc / "policies" / "managed" / "myna-kiosk.json").write_text(json.dumps(policy))
    etc.chmod(0o755)
    tmp_path.chmod(0o755)
    # nobody runs the launcher from here: the checkout may lie under a directory only root can
    # enter (mktemp -d, /root). The same bytes, so it is still the real launcher.
    launcher = tmp_path / LAUNCHER.name
    shutil.copyfile(LAUNCHER, launcher)
    launcher.chmod(0o644)
    nobody = pwd.getpwnam("nobody")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, nobody.pw_uid, nobody.pw_gid)
    supervise = (
        'mount --bind "$1" /etc/chromium || exit 1\n'
        'exec setpriv --reuid=nobody --regid="$2" --clear-groups '
        'env HOME="$3" XDG_RUNTIME_DIR="$3" MYNA_KIOSK_WAIT_S=0 MYNA_PAIRING_FILE="$6" '
        'sh -c \'while :; do sh "$0" "$1"; sleep 1; done\' "$4" "$5"\n'
    )
    browser = subprocess.Popen(  # noqa: S603
        [_exe("unshare"), "--mount", "--propagation", "private", "sh", "-c", supervise, "sh",
         str(etc), str(nobody.pw_gid), str(runtime), str(launcher), kiosk_url,
         str(pairing_file)],
        env=display.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd="/")
    try:
        _wait_for("the kiosk window", display.kiosk_window)
        yield runtime
    finally:
        _stop(browser)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_keyboard_shortcuts_open_nothing(display: Display, kiosk: Path) -> None:
    for key in ESCAPES:
        window = display.kiosk_window()
        assert window is not None, (key, display.titles())
        display.xdotool("windowfocus", "--sync", window)
        display.xdotool("key", "--window", window, key)
        time.sleep(SETTLE_S)  # give a new window time to appear (none should)
        assert display.titles() == [TITLE], f"{key} opened or closed a window"
        assert display.windows() == [window], key


def test_the_kiosk_comes_back_after_it_is_killed(display: Display, kiosk: Path) -> None:
    window = display.kiosk_window()
    assert window is not None
    (profile,) = [p.name for p in kiosk.iterdir() if p.name.startswith("myna-chromium.")]
    pid = int(display.xdotool("getwindowpid", window)[0])
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    _wait_for("the old window to go", lambda: window not in display.windows())
    def relaunched() -> str | None:
        # X reuses window ids once their client is gone: the new browser is told apart by pid.
        w = display.kiosk_window()
        pids = display.xdotool("getwindowpid", w) if w is not None else []
        return w if pids and int(pids[0]) != pid else None

    new_window = _wait_for("the kiosk to come back", relaunched)
    print(f"kiosk back {time.monotonic() - killed:.1f} s after SIGKILL")  # a figure, not a test
    profiles = [p.name for p in kiosk.iterdir() if p.name.startswith("myna-chromium.")]
    assert profile not in profiles and len(profiles) == 1  # a fresh profile, the old one gone
    assert int(display.xdotool("getwindowpid", new_window)[0]) != pid
