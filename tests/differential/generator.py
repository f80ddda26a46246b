"""JPKI-shaped certificate chains with one mutation each, for the differential against openssl
and pyhanko-certvalidator (tests/differential/oracles.py).

A case is a root set, an end-entity certificate, an optional CRL, a purpose and a time. The
baseline is the JPKI shape of tests/support/pki.py (self-signed root, end-entity with keyUsage,
JPKI policy, AKI, the SAN identity); each mutation changes one thing: time, key usage,
constraints, extensions, policy, names, key identifiers, signature, structure, key size,
the CRL or the identity. Key families cover RSA 2048/3072/4096 (PKCS#1 v1.5 and PSS), ECDSA
P-256/P-384/P-521 and Ed25519. Keys are generated once per process and reused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509 import DirectoryName, UniformResourceIdentifier

from tests.support.pki import (
    AT,
    EE_FROM,
    EE_TO,
    POLICY_AUTH,
    POLICY_SIGN_TEST,
    SAN_DEFAULT,
    Ca,
    make_crl,
    make_ee,
    make_root,
    resign,
    resign_crl,
    root_name,
    rsa_key,
    two_person_certificate,
)

SECOND = timedelta(seconds=1)
CURVES = {"p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1}


@functools.cache
def curve_key(curve: str, n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(CURVES[curve]())


@functools.cache
def ed_key(n: int = 0) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class Family:
    """Root and end-entity key algorithms of one chain shape."""

    name: str
    root_key: Callable[[int], object]
    ee_key: Callable[[], object]
    pss: bool = False


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("rsa2048", lambda n: rsa_key(n), lambda: rsa_key(1)),
    Family("rsa2048-pss", lambda n: rsa_key(n), lambda: rsa_key(1), pss=True),
    Family("rsa3072", lambda n: rsa_key(n, 3072), lambda: rsa_key(1, 3072)),
    Family("rsa4096", lambda n: rsa_key(n, 4096), lambda: rsa_key(1)),
    Family("p256", lambda n: curve_key("p256", n), lambda: curve_key("p256", 1)),
    Family("p384", lambda n: curve_key("p384", n), lambda: curve_key("p384", 1)),
    Family("p521", lambda n: curve_key("p521", n), lambda: curve_key("p521", 1)),
    Family("ed25519", lambda n: ed_key(n), lambda: ed_key(1)),
)}


@dataclass(frozen=True)
class Case:
    mutation: str
    family: str
    purpose: str  # "sign" or "auth"
    roots: tuple[bytes, ...]
    ee: bytes
    crl: bytes | None = None
    at: datetime = AT
    policy: str = POLICY_SIGN_TEST

    @property
    def id(self) -> str:
        return f"{self.mutation}/{self.family}/{self.purpose}"


@dataclass
class Builder:
    """What a mutation may use: the family's root, keys and the JPKI defaults per purpose."""

    family: Family
    purpose: str
    root: Ca = field(init=False)

    def __post_init__(self) -> None:
        self.root = make_root(self.family.root_key(0))

    @property
    def policy(self) -> str:
        return POLICY_SIGN_TEST if self.purpose == "sign" else POLICY_AUTH

    def ee(self, issuer: Ca | None = None, **kw) -> bytes:
        kw.setdefault("key", self.family.ee_key())
        kw.setdefault("policy", self.policy)
        kw.setdefault("pss", self.family.pss)
        return make_ee(issuer or self.root, purpose=self.purpose, **kw)

    def case(self, mutation: str, ee: bytes | None = None, *, roots: tuple[Ca, ...] = (),
             crl: bytes | None = None, at: datetime = AT) -> Case:
        return Case(mutation, self.family.name, self.purpose,
                    tuple(r.der for r in roots or (self.root,)),
                    self.ee() if ee is None else ee, crl, at, self.policy)


Mutation = Callable[[Builder], Case]
MUTATIONS: dict[str, Mutation] = {}


def mutation(name: str) -> Callable[[Mutation], Mutation]:
    def register(fn: Mutation) -> Mutation:
        MUTATIONS[name] = fn
        return fn
    return register


def _drop_extension(oid_name: str) -> Callable[[object], None]:
    def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
        tbs["extensions"] = [e for e in tbs["extensions"] if e["extn_id"].native != oid_name]
    return mutate


def _resigned(b: Builder, mutate, **kw) -> bytes:  # type: ignore[no-untyped-def]
    return resign(b.ee(**kw), b.root.key, mutate)


def _idp(*names: x509.GeneralName) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(list(names), None, False, False, None, False, False)


def _cdp(*names: x509.GeneralName) -> tuple[x509.CRLDistributionPoints, bool]:
    return (x509.CRLDistributionPoints([x509.DistributionPoint(list(names), None, None,
                                                                None)]), False)


def _unknown(oid: str = "1.2.3.4.5") -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00")


# --- baseline and time -------------------------------------------------------------------

mutation("baseline")(lambda b: b.case("baseline"))
mutation("at-not-before")(lambda b: b.case("at-not-before", at=EE_FROM))
mutation("at-not-after")(lambda b: b.case("at-not-after", at=EE_TO))
mutation("one-second-early")(lambda b: b.case("one-second-early", at=EE_FROM - SECOND))
mutation("one-second-late")(lambda b: b.case("one-second-late", at=EE_TO + SECOND))
mutation("expired-year")(lambda b: b.case("expired-year", at=EE_TO + timedelta(days=365)))


@mutation("root-expired")
def _root_expired(b: Builder) -> Case:
    root = make_root(b.family.root_key(0), not_before=datetime(2015, 1, 1, tzinfo=UTC),
                     not_after=AT - timedelta(days=1))
    ee = b.ee(root, not_before=AT - timedelta(days=30), not_after=AT + timedelta(days=30))
    return b.case("root-expired", ee, roots=(root,))


@mutation("root-not-yet-valid")
def _root_future(b: Builder) -> Case:
    root = make_root(b.family.root_key(0), not_before=AT + timedelta(days=1))
    return b.case("root-not-yet-valid", b.ee(root), roots=(root,))


# --- key usage and constraints ---------------------------------------------------------------

@mutation("ku-digital-signature-only")
def _ku_ds_only(b: Builder) -> Case:
    return b.case("ku-digital-signature-only", b.ee(key_usage=(True, False)))


@mutation("ku-non-repudiation-only")
def _ku_nr_only(b: Builder) -> Case:
    return b.case("ku-non-repudiation-only", b.ee(key_usage=(False, True)))


mutation("ku-missing")(lambda b: b.case("ku-missing", _resigned(b, _drop_extension("key_usage"))))


@mutation("ee-claims-ca")
def _ee_ca(b: Builder) -> Case:
    bc = (x509.BasicConstraints(ca=True, path_length=None), True)
    return b.case("ee-claims-ca", b.ee(extra_exts=[bc]))


@mutation("root-not-ca")
def _root_not_ca(b: Builder) -> Case:
    root = make_root(b.family.root_key(0), ca=False)
    return b.case("root-not-ca", b.ee(root), roots=(root,))


# --- extensions and structure ---------------------------------------------------------------

@mutation("unknown-critical-extension")
def _unknown_critical(b: Builder) -> Case:
    return b.case("unknown-critical-extension", b.ee(extra_exts=[(_unknown(), True)]))


@mutation("unknown-noncritical-extension")
def _unknown_noncritical(b: Builder) -> Case:
    return b.case("unknown-noncritical-extension", b.ee(extra_exts=[(_unknown(), False)]))


@mutation("duplicate-extension")
def _duplicate(b: Builder) -> Case:
    def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
        exts = list(tbs["extensions"])
        tbs["extensions"] = [*exts, exts[0]]
    return b.case("duplicate-extension", _resigned(b, mutate))


@mutation("two-subject-alt-names")
def _two_sans(b: Builder) -> Case:
    return b.case("two-subject-alt-names", two_person_certificate(b.root))


@mutation("inner-algorithm-differs")
def _inner_alg(b: Builder) -> Case:
    def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
        tbs["signature"] = {"algorithm": "sha512_rsa"}
    return b.case("inner-algorithm-differs", _resigned(b, mutate))


def _version(v: str) -> Callable[[Builder], Case]:
    def build(b: Builder) -> Case:
        def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
            tbs["version"] = v
        return b.case(f"{v}-with-extensions", _resigned(b, mutate))
    return build


mutation("v1-with-extensions")(_version("v1"))
mutation("v2-with-extensions")(_version("v2"))


def _serial(value: int) -> Callable[[Builder], Case]:
    def build(b: Builder) -> Case:
        def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
            tbs["serial_number"] = value
        name = "serial-negative" if value < 0 else "serial-zero"
        return b.case(name, _resigned(b, mutate), crl=make_crl(b.root, []))
    return build


mutation("serial-negative")(_serial(-0x1234))
mutation("serial-zero")(_serial(0))

# --- policy ----------------------------------------------------------------------------------

mutation("policy-missing")(lambda b: b.case("policy-missing", b.ee(policy=None)))
mutation("policy-other")(lambda b: b.case("policy-other", b.ee(policy="1.2.3.4.5.6")))
mutation("policy-any")(lambda b: b.case("policy-any", b.ee(policy="2.5.29.32.0")))

# --- names and key identifiers ---------------------------------------------------------------


@mutation("issuer-name-case-and-spaces")
def _issuer_case(b: Builder) -> Case:
    # The same name per RFC 5280 §7.1: the EE names its issuer in other letter case and spacing.
    stand_in = Ca(b.root.key, make_root(b.family.root_key(0),
                                        name=root_name(o="jpki-test  ")).cert)
    return b.case("issuer-name-case-and-spaces", b.ee(stand_in))


@mutation("issuer-name-other")
def _issuer_other(b: Builder) -> Case:
    stand_in = Ca(b.root.key, make_root(b.family.root_key(0), name=root_name(o="Other")).cert)
    return b.case("issuer-name-other", b.ee(stand_in))


mutation("aki-missing")(lambda b: b.case("aki-missing", b.ee(aki=False)))


@mutation("aki-of-another-key")
def _aki_other(b: Builder) -> Case:
    other = Ca(b.family.root_key(7), b.root.cert)
    donor = ax509.Certificate.load(make_ee(other, purpose=b.purpose))  # only for its AKI
    wanted = next(e for e in donor["tbs_certificate"]["extensions"]
                  if e["extn_id"].native == "authority_key_identifier")

    def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
        tbs["extensions"] = [wanted if e["extn_id"].native == "authority_key_identifier"
                             else e for e in tbs["extensions"]]
    return b.case("aki-of-another-key", _resigned(b, mutate))


# --- signatures and keys -------------------------------------------------------------------

@mutation("signature-tampered")
def _tampered(b: Builder) -> Case:
    der = bytearray(b.ee())
    der[-3] ^= 0x01
    return b.case("signature-tampered", bytes(der))


@mutation("signed-by-same-dn-other-key")
def _other_key(b: Builder) -> Case:
    return b.case("signed-by-same-dn-other-key", b.ee(signer=b.family.root_key(7)))


def _foreign_signer(b: Builder) -> object:
    # A key of another algorithm than the issuer's: ECDSA under RSA/EdDSA, RSA under the rest.
    return rsa_key(0) if b.family.name.startswith(("p", "ed")) else curve_key("p384", 0)


@mutation("signature-algorithm-not-issuer-key")
def _alg_mismatch(b: Builder) -> Case:
    return b.case("signature-algorithm-not-issuer-key", b.ee(signer=_foreign_signer(b)))


@mutation("signature-algorithm-not-issuer-key-no-aki")
def _alg_mismatch_no_aki(b: Builder) -> Case:
    return b.case("signature-algorithm-not-issuer-key-no-aki",
                  b.ee(signer=_foreign_signer(b), aki=False))


mutation("ee-rsa-1024")(lambda b: b.case("ee-rsa-1024", b.ee(key=rsa_key(5, 1024))))
mutation("ee-p224")(lambda b: b.case("ee-p224", b.ee(key=ec.generate_private_key(
    ec.SECP224R1()))))


def _next_generation(aki: bool, rsa_first: bool) -> None:
    # J-LIS keeps one DN across root generations (reference §11.2): RSA today, P-384 tomorrow.
    name = (f"next-generation-{'aki' if aki else 'no-aki'}-"
            f"{'rsa' if rsa_first else 'p384'}-first")

    def build(b: Builder) -> Case:
        today = make_root(rsa_key(0), serial=1)
        tomorrow = make_root(curve_key("p384", 0), serial=2)
        roots = (today, tomorrow) if rsa_first else (tomorrow, today)
        return b.case(name, b.ee(tomorrow, aki=aki), roots=roots)
    MUTATIONS[name] = build


for _aki in (True, False):
    for _first in (True, False):
        _next_generation(_aki, _first)

# --- CRLs ----------------------------------------------------------------------------------

REVOKED = 0x1234  # make_ee's default serial


def _crl(name: str, revoked=(), **kw) -> Mutation:  # type: ignore[no-untyped-def]
    def build(b: Builder) -> Case:
        return b.case(name, crl=make_crl(b.root, revoked, **kw))
    MUTATIONS[name] = build
    return build


_crl("crl-good")
_crl("crl-revoked", [REVOKED])
_crl("crl-revoked-issuer-case", [REVOKED], issuer_name=root_name(o="jpki-test"))
_crl("crl-revoked-issuer-spaces", [REVOKED],
     issuer_name=root_name(ou="JPKI  for  digital signature"))
_crl("crl-stale", next_update=AT - timedelta(days=1))
_crl("crl-not-yet-current", this_update=AT + timedelta(days=1),
     next_update=AT + timedelta(days=30))
_crl("crl-unknown-critical-extension", extensions=[(_unknown(), True)])
_crl("crl-unknown-critical-entry-extension", [0x77],
     entry_extensions=[(_unknown(), True)])
_crl("crl-delta", extensions=[(x509.DeltaCRLIndicator(1), True)])
_crl("crl-idp-user-certs", [REVOKED], extensions=[(x509.IssuingDistributionPoint(
    None, None, True, False, None, False, False), True)])
_crl("crl-idp-ca-certs-only", extensions=[(x509.IssuingDistributionPoint(
    None, None, False, True, None, False, False), True)])


@mutation("crl-other-key-same-dn")
def _crl_other_key(b: Builder) -> Case:
    return b.case("crl-other-key-same-dn",
                  crl=make_crl(Ca(b.family.root_key(7), b.root.cert), [REVOKED]))


@mutation("crl-of-unrelated-ca")
def _crl_unrelated(b: Builder) -> Case:
    other = make_root(b.family.root_key(7), name=root_name(o="Elsewhere"))
    return b.case("crl-of-unrelated-ca", crl=make_crl(other, [REVOKED]))


@mutation("crl-sha1")
def _crl_sha1(b: Builder) -> Case:
    root = make_root(rsa_key(0))
    return b.case("crl-sha1", b.ee(root), roots=(root,),
                  crl=resign_crl(make_crl(root, [REVOKED]), rsa_key(0)))


def _partition(name: str, in_cert: x509.GeneralName, in_crl: x509.GeneralName,
               revoked=(REVOKED,)) -> None:  # type: ignore[no-untyped-def]
    def build(b: Builder) -> Case:
        return b.case(name, b.ee(extra_exts=[_cdp(in_cert)]),
                      crl=make_crl(b.root, revoked, extensions=[(_idp(in_crl), True)]))
    MUTATIONS[name] = build


_CITY = DirectoryName(root_name(ou="Chiyoda-ku"))
_partition("crl-partition-revoked", _CITY, _CITY)
_partition("crl-partition-good", _CITY, _CITY, revoked=())
_partition("crl-partition-name-case", _CITY, DirectoryName(root_name(ou="CHIYODA-KU")))
_partition("crl-partition-other", _CITY, DirectoryName(root_name(ou="Minato-ku")), revoked=())
_partition("crl-partition-uri-host-case", UniformResourceIdentifier("http://crl.test/a.crl"),
           UniformResourceIdentifier("http://CRL.TEST/a.crl"))


@mutation("crl-partition-duplicate-extension")
def _crl_dup(b: Builder) -> Case:
    def mutate(tbs) -> None:  # type: ignore[no-untyped-def]
        exts = list(tbs["extensions"])
        tbs["extensions"] = [*exts, exts[0]]
    ee = resign(b.ee(extra_exts=[_cdp(_CITY)]), b.root.key, mutate)
    return b.case("crl-partition-duplicate-extension", ee,
                  crl=make_crl(b.root, [], extensions=[(_idp(_CITY), True)]))


# --- identity (sign only: the auth certificate carries none) -------------------------------

def _identity(name: str, oid_suffix: int, value: str) -> None:
    oid = f"1.2.392.200149.8.5.5.{oid_suffix}"
    san = tuple((o, value if o == oid else v) for o, v in SAN_DEFAULT)

    def build(b: Builder) -> Case:
        return b.case(name, b.ee(san=san))
    MUTATIONS[name] = build


_identity("identity-rlo-in-name", 1, "山田\u202e太郎")
_identity("identity-zero-width-in-name", 1, "山田\u200b太郎")
_identity("identity-private-use-in-address", 5, "東京都\ue000千代田区霞が関二丁目１番２号")
_identity("identity-flags-too-short", 2, "0000")
_identity("identity-era-mismatch", 4, "419800217")
_identity("identity-sex-unknown-code", 3, "7")

IDENTITY_MUTATIONS = frozenset(m for m in MUTATIONS if m.startswith("identity-"))
# Shapes that do not depend on the key family: built once, under rsa2048.
FAMILY_INDEPENDENT = frozenset(m for m in MUTATIONS if m.startswith(("next-generation",
                                                                     "crl-sha1")))


def cases(families: list[str], purposes: tuple[str, ...] = ("sign", "auth"),
          mutations: list[str] | None = None) -> Iterator[Case]:
    """Every (mutation, family, purpose) asked for, skipping combinations that make no sense."""
    for family in families:
        for purpose in purposes:
            b = Builder(FAMILIES[family], purpose)
            for name in mutations or list(MUTATIONS):
                if name in IDENTITY_MUTATIONS and purpose != "sign":
                    continue
                if name in FAMILY_INDEPENDENT and family != "rsa2048":
                    continue
                yield MUTATIONS[name](b)
