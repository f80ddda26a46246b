"""Trust anchors: pinned J-LIS fingerprints (against the real roots in ../shared) and TrustStore."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import pem, x509

from agent.verification.errors import CertificateRejectedError, ErrorCode, RejectReason
from agent.verification.trust import (
    PINNED_ROOTS,
    Purpose,
    TrustMode,
    TrustStore,
    fingerprint,
    pinned_root_for,
)
from tests.support.pki import make_root, rsa_key

JLIS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "jlis-roots"
JLIS_FILES = {
    "sign_ca_2015.pem": (Purpose.SIGN, "2015"),
    "sign_ca_2023.pem": (Purpose.SIGN, "2023"),
    "auth_ca_2015.pem": (Purpose.AUTH, "2015"),
    "auth_ca_2023.pem": (Purpose.AUTH, "2023"),
}


def _jlis_der(name: str) -> bytes:
    path = JLIS_DIR / name
    if not path.is_file():
        pytest.skip("J-LIS roots not available in ../shared/data/jlis-roots")
    _, _, der = pem.unarmor(path.read_bytes())
    return der


@pytest.mark.parametrize("name", sorted(JLIS_FILES), ids=sorted(JLIS_FILES))
def test_real_jlis_root_is_pinned_with_generation_and_expiry(name):
    der = _jlis_der(name)
    pin = pinned_root_for(der)
    assert pin is not None
    assert (pin.purpose, pin.generation) == JLIS_FILES[name]
    cert = x509.Certificate.load(der)
    assert pin.not_after == cert.not_valid_after
    expired = datetime(2026, 11, 26, tzinfo=UTC) > cert.not_valid_after
    assert expired is (pin.generation == "2015")


def test_every_generation_listed_and_gap_documented():
    gens = {(p.purpose, p.generation) for p in PINNED_ROOTS}
    assert gens == {(pu, g) for pu in Purpose for g in ("2015", "2019", "2023")}
    by = {(p.purpose, p.generation): p for p in PINNED_ROOTS}
    auth2019 = by[(Purpose.AUTH, "2019")]
    assert auth2019.fingerprint is None
    sign2019 = by[(Purpose.SIGN, "2019")]
    assert sign2019.fingerprint == (
        "79679C33E4CC9319440F1AD120A597FF1844E2EF217063ADB176966FD5E6FBEB")


def test_card_ca_accepted_only_if_pinned():
    store = TrustStore.build(TrustMode.JLIS)
    assert store.anchors == () and not store.test_trust
    with pytest.raises(CertificateRejectedError) as ei:
        store.with_ca(make_root().der)
    assert ei.value.reason is RejectReason.UNPINNED_CA
    assert ei.value.code is ErrorCode.CERT_UNTRUSTED
    der = _jlis_der("sign_ca_2023.pem")
    grown = store.with_ca(der)
    assert store.anchors == ()  # frozen: the original is unchanged
    assert grown.generation_of(der) == "2023" and not grown.test_trust


def test_test_mode_loads_exported_roots_and_marks_test(tmp_path):
    root = make_root()
    (tmp_path / "sign_root.pem").write_bytes(root.pem + make_root(rsa_key(5), serial=2).pem)
    (tmp_path / "auth_root.pem").write_bytes(root.pem)
    store = TrustStore.build("test", test_dir=tmp_path)
    assert store.test_trust
    assert [a.generation for a in store.anchors] == ["test"] * 3
    assert store.with_ca(root.der) is store  # the card's copy of a loaded test root is fine
    # jlis mode ignores the test dir entirely
    assert TrustStore.build("jlis", test_dir=tmp_path).anchors == ()


def test_operator_root_marks_test_trust(tmp_path):
    p = tmp_path / "op.pem"
    p.write_bytes(make_root().pem)
    store = TrustStore.build("jlis", extra_roots=[p])
    assert store.test_trust and store.anchors[0].generation == "operator"


BAD_PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01", BAD_PEM, b"\x30" * 100000],
                         ids=["empty", "truncated", "bad-pem", "huge"])
def test_bad_ca_file_is_malformed(tmp_path, data):
    p = tmp_path / "ca.pem"
    p.write_bytes(data)
    with pytest.raises(CertificateRejectedError) as ei:
        TrustStore.build("jlis", ca_files=[p])
    assert ei.value.code is ErrorCode.CERT_MALFORMED


def test_fingerprint_format():
    assert fingerprint(b"") == "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
