"""Deterministic RSA keys for the emulator's test PKI (reference §11, §13 item 11).

A key is a pure function of a seed string: primes come from a SHA-256 counter DRBG, a small
prime sieve and Miller–Rabin with DRBG-chosen bases, and the key is assembled with
``rsa.RSAPrivateNumbers``. Pure-Python prime search costs about half a second per key (a
minute for the whole test PKI), so the primes of every seed the emulator uses ship with the
package (``data/test_keys.json``, written by ``scripts/build-test-keys.py`` with this very
derivation: fictional test keys, nothing secret) and a cold start derives nothing. Other seeds
are derived and cached in memory and on disk (``$XDG_CACHE_HOME/myna-kiosk/rsa`` or
``~/.cache/myna-kiosk/rsa``), keyed by the seed's hash. A corrupt bundle or cache entry is
ignored and recomputed, never trusted blindly: the primes are re-checked before use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

logger = logging.getLogger(__name__)

PUBLIC_EXPONENT = 65537
_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


class _Drbg:
    """SHA-256 in counter mode over a seed: enough determinism for test keys, not for secrets."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return out[:n]


def _is_probable_prime(n: int, drbg: _Drbg, rounds: int = 24) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    nbytes = (n.bit_length() + 7) // 8
    for _ in range(rounds):
        a = 2 + int.from_bytes(drbg.read(nbytes), "big") % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _find_prime(drbg: _Drbg, bits: int) -> int:
    window = 8192
    while True:
        start = int.from_bytes(drbg.read(bits // 8), "big")
        start |= (3 << (bits - 2)) | 1  # top two bits set: p*q has exactly 2*bits bits
        # Sieve the odd numbers start + 2i (i < window) by small primes before Miller–Rabin.
        composite = bytearray(window)
        for p in _SMALL_PRIMES:
            i = (-start * pow(2, -1, p)) % p  # start + 2i ≡ 0 (mod p)
            composite[i::p] = b"\x01" * len(range(i, window, p))
        for i in range(window):
            if composite[i]:
                continue
            cand = start + 2 * i
            if (cand - 1) % PUBLIC_EXPONENT == 0:
                continue
            if _is_probable_prime(cand, drbg):
                return cand


DERIVATION = "myna-kiosk test rsa v1"
BUNDLE = Path(__file__).with_name("data") / "test_keys.json"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "myna-kiosk" / "rsa"


def _entry_key(seed: str, bits: int) -> str:
    return hashlib.sha256(f"{bits}:{seed}".encode()).hexdigest()


def _checked(raw: object, bits: int) -> tuple[int, int] | None:
    """``(p, q)`` from a stored ``{"p": hex, "q": hex}`` if they look right, else None."""
    try:
        p, q = int(raw["p"], 16), int(raw["q"], 16)  # type: ignore[index]
    except (ValueError, KeyError, TypeError):
        return None
    drbg = _Drbg(b"cache-check")
    if p.bit_length() != bits // 2 or q.bit_length() != bits // 2 or p == q:
        return None
    if not (_is_probable_prime(p, drbg, 1) and _is_probable_prime(q, drbg, 1)):
        return None
    return p, q


def _primes_from_disk(path: Path, bits: int) -> tuple[int, int] | None:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return _checked(raw, bits)


@lru_cache(maxsize=1)
def _bundle() -> dict[str, object]:
    try:
        raw = json.loads(BUNDLE.read_text())
    except (OSError, ValueError):
        logger.debug("no usable test key bundle at %s", BUNDLE)
        return {}
    if not isinstance(raw, dict) or raw.get("derivation") != DERIVATION:
        return {}  # primes of another derivation would give other keys: derive instead
    keys = raw.get("keys")
    return keys if isinstance(keys, dict) else {}


def _derive(seed: str, bits: int) -> tuple[int, int]:
    drbg = _Drbg(f"{DERIVATION}|{bits}|{seed}".encode())
    p = _find_prime(drbg, bits // 2)
    q = _find_prime(drbg, bits // 2)
    while q == p:
        q = _find_prime(drbg, bits // 2)
    return p, q


def _primes(seed: str, bits: int) -> tuple[int, int]:
    key = _entry_key(seed, bits)
    bundled = _checked(_bundle().get(key), bits)
    if bundled is not None:
        return bundled
    path = _cache_dir() / f"{key}.json"
    cached = _primes_from_disk(path, bits)
    if cached is not None:
        return cached
    p, q = _derive(seed, bits)
    try:
        # Private keys, even test ones: only the owner may list or read them.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # a cache made before this, with the umask's mode
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"p": f"{p:x}", "q": f"{q:x}"}))
        os.replace(tmp, path)
    except OSError as e:  # a read-only home must not break the emulator
        logger.debug("cannot write RSA cache: %s", e)
    return p, q


def write_bundle(seeds: Iterable[tuple[str, int]], path: Path = BUNDLE) -> int:
    """Write the primes of ``seeds`` (``(seed, bits)`` pairs) as the shipped bundle; return how
    many. Each is derived afresh (never copied from a cache), so the bundle is the derivation."""
    keys = {}
    for seed, bits in sorted(set(seeds)):
        p, q = _derive(seed, bits)
        keys[_entry_key(seed, bits)] = {"seed": seed, "bits": bits, "p": f"{p:x}", "q": f"{q:x}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"derivation": DERIVATION, "keys": keys}, indent=0) + "\n")
    _bundle.cache_clear()
    return len(keys)


@lru_cache(maxsize=256)
def deterministic_rsa_key(seed: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """Return the RSA key (e = 65537) that ``seed`` always yields."""
    p, q = _primes(seed, bits)
    if p < q:
        p, q = q, p
    n = p * q
    d = pow(PUBLIC_EXPONENT, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, n),
    )
    # The primes were just generated or re-checked above; OpenSSL's full check costs ~40 ms.
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def pkcs1_sign_raw(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """Return the RSA signature of ``data`` padded as PKCS#1 v1.5 type 1, as the card's
    COMPUTE DIGITAL SIGNATURE P1 00 does (reference §7.4): the caller supplies the DigestInfo.

    :raises ValueError: if ``data`` is empty or longer than the modulus length minus 11.
    """
    k = (key.key_size + 7) // 8
    if not 1 <= len(data) <= k - 11:
        raise ValueError("PKCS#1 v1.5 input length out of range")
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    priv = key.private_numbers()
    m = int.from_bytes(em, "big")
    # CRT: two half-size exponentiations.
    s1 = pow(m, priv.dmp1, priv.p)
    s2 = pow(m, priv.dmq1, priv.q)
    h = (priv.iqmp * (s1 - s2)) % priv.p
    return (s2 + h * priv.q).to_bytes(k, "big")
