"""``myna verify-cert`` on certificates read from the emulator, and ``myna verify`` end to end."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from card.apps.jpki import CertificateKind, JpkiApp, PinKind
from card.channel import ApduChannel
from card.emulator import PERSONAS, VirtualMynaCard, export_trust
from card.transports.emulated import EmulatedReader
from tests.support.pki import SAN_DEFAULT, make_ee, make_root

AT = "2026-11-26T00:00:00Z"


def read_cert(persona: str, kind: CertificateKind) -> bytes:
    reader = EmulatedReader(persona, VirtualMynaCard(PERSONAS[persona]))
    with reader.connect() as connection:
        jpki = JpkiApp(ApduChannel(connection))
        jpki.select()
        if kind is CertificateKind.SIGN:
            jpki.verify_pin(PinKind.SIGN, PERSONAS[persona].credentials.sign_password)
        return jpki.read_certificate(kind)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    trust = d / "trust"
    export_trust(trust)
    out = {"trust": trust}
    for name, persona, kind in [
        ("sign", "yamada-taro", CertificateKind.SIGN),
        ("auth", "yamada-taro", CertificateKind.AUTH),
        ("expired", "expired-cert", CertificateKind.SIGN),
        ("revoked", "revoked-cert", CertificateKind.SIGN),
        ("ca", "yamada-taro", CertificateKind.SIGN_CA),
    ]:
        p = d / f"{name}.der"
        p.write_bytes(read_cert(persona, kind))
        out[name] = p
    bad = d / "bad.der"
    bad.write_bytes(out["sign"].read_bytes()[:200])
    out["bad"] = bad
    return out


def verify_cert(capsys, *args) -> tuple[int, dict]:
    rc = main(["verify-cert", *map(str, args), "--json", "--at", AT])
    return rc, json.loads(capsys.readouterr().out)


def test_accepts_with_test_trust(files, capsys):
    rc, v = verify_cert(capsys, files["sign"], "--trust", "test", "--trust-dir", files["trust"])
    assert rc == 0 and v["ok"] and v["test_trust"] is True
    assert v["assurance"] == ["chain"] and v["flow"] == "sign"
    assert v["identity"]["name"] == PERSONAS["yamada-taro"].identity.name
    assert set(v) == {"ok", "flow", "assurance", "test_trust", "identity", "certificate",
                      "error", "timings_ms"}


def test_accepts_with_operator_root(files, capsys):
    rc, v = verify_cert(capsys, files["sign"], "--trust-root", files["trust"] / "sign_root.pem")
    assert rc == 0 and v["test_trust"] is True
    assert v["certificate"]["issuer_generation"] == "operator"


@pytest.mark.parametrize(
    ("key", "extra", "code", "reason"),
    [
        ("sign", ["--trust", "jlis"], "CERT_UNTRUSTED", "untrusted_root"),
        ("sign", ["--trust-root", "auth_root.pem"], "CERT_UNTRUSTED", "untrusted_root"),
        ("expired", ["--trust", "test", "--trust-dir", "."], "CERT_EXPIRED", "expired"),
        ("auth", ["--purpose", "sign", "--trust", "test", "--trust-dir", "."], "CERT_INVALID",
         "key_usage"),
        ("sign", ["--ca", "ca.der"], "CERT_UNTRUSTED", "unpinned_ca"),
        ("revoked", ["--trust", "test", "--trust-dir", ".", "--crl", "test.crl"],
         "CERT_REVOKED", "revoked"),
        ("bad", ["--trust", "test", "--trust-dir", "."], "CERT_MALFORMED", "malformed"),
    ],
    ids=["wrong-root-jlis", "wrong-root-operator", "expired", "wrong-key-usage", "unpinned-ca",
         "revoked", "malformed"],
)
def test_rejects(files, capsys, key, extra, code, reason):
    trust = files["trust"]
    base = files["ca"].parent

    def resolve(a: str) -> str:
        if a == ".":
            return str(trust)
        if a.endswith((".pem", ".crl")):
            return str(trust / a)
        if a.endswith(".der"):
            return str(base / a)
        return a

    rc, v = verify_cert(capsys, files[key], *map(resolve, extra))
    assert rc == 1 and v["ok"] is False and v["identity"] is None
    assert (v["error"]["code"], v["error"]["reason"]) == (code, reason)


def test_revoked_without_crl_is_chain_only(files, capsys):
    rc, v = verify_cert(capsys, files["revoked"], "--trust", "test", "--trust-dir",
                        files["trust"])
    assert rc == 0 and v["assurance"] == ["chain"]


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_myna_verify_sign_every_persona(persona, capsys, monkeypatch):
    monkeypatch.setenv("MYNA_PIN", PERSONAS[persona].credentials.sign_password.lower())
    rc = main(["verify", "--flow", "sign", "--reader", f"emulator:{persona}", "--json",
               "--at", AT])
    v = json.loads(capsys.readouterr().out)
    expected = PERSONAS[persona].outcome("sign")
    assert ("ok" if v["ok"] else v["error"]["code"]) == expected
    assert rc == (0 if expected == "ok" else 1)


def test_myna_verify_human_output_and_pin_file(tmp_path, capsys):
    pin = tmp_path / "pin"
    pin.write_text("0000\n")
    rc = main(["verify", "--flow", "auth", "--reader", "emulator:yamada-taro", "--pin-file",
               str(pin), "--at", AT])
    out = capsys.readouterr()
    assert rc == 1 and "PIN_INVALID (2 tries left)" in out.out and "TEST" in out.err
    assert "0000" not in out.out + out.err


def test_number_needs_enable(capsys, monkeypatch):
    monkeypatch.setenv("MYNA_PIN", "1234")
    assert main(["verify", "--flow", "number", "--reader", "emulator:yamada-taro"]) == 1
    assert "FLOW_DISABLED" in capsys.readouterr().out
    assert main(["verify", "--flow", "number", "--enable-number", "--reader",
                 "emulator:yamada-taro"]) == 0
    out = capsys.readouterr().out
    assert PERSONAS["yamada-taro"].identity.my_number not in out  # masked on screen


def _pki_files(tmp_path, **ee_kw):
    root = make_root()
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "ee.der").write_bytes(make_ee(root, **ee_kw))
    return tmp_path / "ee.der", tmp_path / "root.pem"


def test_unknown_san_values_cannot_drive_the_terminal(tmp_path, capsys):
    hostile = "\x1b]0;owned\x07\x1b[31mred\u202etxt"
    san = (*SAN_DEFAULT, ("1.2.392.200149.8.5.5.99", hostile))
    ee, root = _pki_files(tmp_path, san=san)
    rc = main(["verify-cert", str(ee), "--trust-root", str(root), "--at", AT])
    out = capsys.readouterr().out
    assert rc == 0 and "1.2.392.200149.8.5.5.99=" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\u001b]0;owned" in out
    rc, v = verify_cert(capsys, ee, "--trust-root", root)  # JSON keeps the value as found
    assert v["identity"]["extra"]["1.2.392.200149.8.5.5.99"] == hostile


def test_auto_purpose_sign_certificate_without_non_repudiation_is_key_usage(tmp_path, capsys):
    ee, root = _pki_files(tmp_path, key_usage=(True, False))
    rc, v = verify_cert(capsys, ee, "--trust-root", root)
    assert rc == 1 and v["flow"] == "sign"
    assert (v["error"]["code"], v["error"]["reason"]) == ("CERT_INVALID", "key_usage")


def test_trust_root_must_be_self_issued(files, capsys):
    rc, v = verify_cert(capsys, files["sign"], "--trust-root", files["sign"])
    assert rc == 1 and (v["error"]["code"], v["error"]["reason"]) == ("CERT_UNTRUSTED",
                                                                      "untrusted_root")
    assert "self-issued" in v["error"]["message"]
