"""Deterministic RSA keys: same seed → same key with or without (or with a corrupt) disk cache;
the raw PKCS#1 v1.5 signer equals the library's for a DigestInfo (reference §7.4 P1 00)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from card.emulator import rsakeys


def _fresh(seed: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    rsakeys.deterministic_rsa_key.cache_clear()
    return rsakeys.deterministic_rsa_key(seed, 512).private_numbers().p


def test_same_seed_same_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _fresh("unit-test", tmp_path / "a", monkeypatch)
    b = _fresh("unit-test", tmp_path / "b", monkeypatch)
    assert a == b
    assert _fresh("other-seed", tmp_path / "a", monkeypatch) != a
    files = list((tmp_path / "a" / "myna-kiosk" / "rsa").glob("*.json"))
    assert len(files) == 2
    for f in files:
        f.write_text('{"p": "4", "q": "zz"}')  # corrupt: recomputed, never trusted
    assert _fresh("unit-test", tmp_path / "a", monkeypatch) == a
    rsakeys.deterministic_rsa_key.cache_clear()


def test_key_cache_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    (cache / "myna-kiosk" / "rsa").mkdir(parents=True, mode=0o755)  # left by an older version
    old = os.umask(0o022)
    try:
        _fresh("private-cache", cache, monkeypatch)
    finally:
        os.umask(old)
    folder = cache / "myna-kiosk" / "rsa"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.glob("*.json"))
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    rsakeys.deterministic_rsa_key.cache_clear()


def test_raw_pkcs1_matches_library() -> None:
    key = rsakeys.deterministic_rsa_key("unit-test-sign", 1024)
    msg = b"hello"
    di = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(msg).digest()
    assert rsakeys.pkcs1_sign_raw(key, di) == key.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(ValueError):
        rsakeys.pkcs1_sign_raw(key, b"\x00" * 118)  # > k - 11 for a 1024-bit key


def _clear_key_caches() -> None:
    from card.emulator import pki
    from card.emulator.cardimage import build_card_image

    for cached in (rsakeys.deterministic_rsa_key, rsakeys._bundle, build_card_image,
                   pki.root_certificate, pki.test_crl):
        cached.cache_clear()


def test_cold_start_derives_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key of every persona and of the test trust ships in the bundle: with an empty key
    cache nothing is derived (a new persona or key role needs scripts/build-test-keys.py)."""
    from card.emulator import PERSONAS, export_trust
    from card.emulator.cardimage import build_card_image

    def no_derivation(seed: str, bits: int) -> tuple[int, int]:
        raise AssertionError(f"key {seed!r} ({bits} bits) is not in {rsakeys.BUNDLE.name}")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(rsakeys, "_derive", no_derivation)
    _clear_key_caches()
    try:
        for name in PERSONAS:
            build_card_image(name)
        export_trust(tmp_path / "trust")
    finally:
        _clear_key_caches()
    assert not (tmp_path / "empty").exists()  # and nothing written to the cache either


def test_bundle_holds_exactly_the_derivation() -> None:
    bundle = rsakeys._bundle()
    entry = bundle[min(bundle)]
    assert isinstance(entry, dict)
    p, q = rsakeys._derive(entry["seed"], entry["bits"])
    assert (f"{p:x}", f"{q:x}") == (entry["p"], entry["q"])


def test_corrupt_bundle_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _fresh("unit-test", tmp_path / "a", monkeypatch)
    key = rsakeys._entry_key("unit-test", 512)
    bad_primes = {"derivation": rsakeys.DERIVATION, "keys": {key: {"p": "4", "q": "zz"}}}
    for content in ("not json", '{"derivation": "other", "keys": {}}', json.dumps(bad_primes)):
        bundle = tmp_path / "bundle.json"
        bundle.write_text(content)
        monkeypatch.setattr(rsakeys, "BUNDLE", bundle)
        rsakeys._bundle.cache_clear()
        assert _fresh("unit-test", tmp_path / "b", monkeypatch) == expected
    rsakeys._bundle.cache_clear()
    rsakeys.deterministic_rsa_key.cache_clear()
