"""`myna status` / `myna read cert` against the in-process emulator, and EmulatedReader basics."""

from __future__ import annotations

import pytest

from agent.cli import main
from card.apps import JpkiApp
from card.channel import ApduChannel
from card.errors import CardRemovedError, NoCardError, NoReaderError
from card.transports import open_reader
from card.transports.emulated import EmulatedReader


def test_status_twice_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["status", "--reader", "emulator:yamada-taro"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert [line.split(": ")[1] for line in outputs[0].splitlines()] == ["3 / 3", "5 / 5", "3 / 3"]


def test_read_sign_cert_with_env_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from card.emulator import PERSONAS

    password = PERSONAS["yamada-taro"].credentials.sign_password
    monkeypatch.setenv("MYNA_PIN", password)
    assert main(["read", "cert", "--type", "sign", "--reader", "emulator:yamada-taro"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("-----BEGIN CERTIFICATE-----")
    assert password not in captured.out + captured.err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["status", "--reader", "emulator:unknown-card"], 1, "not a My Number card"),
        (["status", "--reader", "nope:x"], 3, "unknown reader"),
        (["read", "cert", "--type", "auth", "--reader", "emulator:no-such-persona"], 3, "persona"),
    ],
    ids=["unknown-card", "bad-scheme", "bad-persona"],
)
def test_typed_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_wrong_password_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYNA_PIN", "WRONG123")
    assert main(["read", "cert", "--type", "sign", "--reader", "emulator:yamada-taro"]) == 4
    assert "4 tries left" in capsys.readouterr().err


def test_emulated_reader_insert_remove() -> None:
    reader = open_reader("emulator:yamada-taro")
    assert isinstance(reader, EmulatedReader) and reader.has_card()
    card = reader.card
    with reader.connect() as connection:
        JpkiApp(ApduChannel(connection)).select()
        reader.remove()
        with pytest.raises(CardRemovedError):
            JpkiApp(ApduChannel(connection)).select()
    assert not reader.has_card()
    with pytest.raises(NoCardError):
        reader.connect()
    reader.insert(card)  # type: ignore[arg-type]
    with reader.connect() as connection:
        JpkiApp(ApduChannel(connection)).select()


def test_nfc_locator_is_validated() -> None:
    with pytest.raises(NoReaderError):
        open_reader("nfc:bogus")
