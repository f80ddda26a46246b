"""Every known disagreement between our verdict and an oracle's, with the reason we keep it.

Keyed by (mutation, oracle). A disagreement not listed here fails the differential test; an
entry that no case in the sample exercises fails it too, so the list cannot go stale. "We
refuse" entries are JPKI-profile or RFC 5280 MUST checks the generic validator does not make;
"we accept" entries are the risky direction and each says why the oracle is the one too strict.
"""

from __future__ import annotations

OPENSSL = "openssl"
CERTVALIDATOR = "certvalidator"
BOTH = (OPENSSL, CERTVALIDATOR)

_PROFILE_IDENTITY = ("JPKI profile: the SAN identity (reference §11.1) is refused as ambiguous "
                     "or malformed; generic validators do not read it")
_WEAK_KEY = ("our possession-key minimum (RSA >= 2048 bits, EC >= 256 bits); neither validator "
             "has one by default")
_SERIAL = ("RFC 5280 §4.1.2.2: the serial MUST be positive; both validators accept it and "
           "cryptography announces it will refuse it: we refuse as malformed")
_NO_AKI = ("we accept: openssl's -x509_strict requires an AKI, but RFC 5280 §4.2.1.1 puts that "
           "MUST on the issuing CA and path validation (§6.1) never uses the AKI; we choose the "
           "issuer among same-DN anchors by the key that verifies (the next J-LIS root "
           "generation shares the DN, reference §11.2)")
_KU_OPENSSL = ("openssl verify checks keyUsage only under a -purpose, none of which is JPKI's "
               "rule (reference §11.1); certvalidator, given the usage, agrees with us")
_DUPLICATE = ("RFC 5280 §4.2: an extension MUST NOT appear twice (two SANs = two identities); "
              "certvalidator does not check it, openssl refuses too")

_ENTRIES: dict[str, dict[str, str]] = {
    "at-not-after": {OPENSSL: "we accept: RFC 5280 §4.1.2.5 makes validity inclusive of "
                              "notAfter; openssl counts notAfter itself as expired"},
    "aki-missing": {OPENSSL: _NO_AKI},
    "next-generation-no-aki-rsa-first": {
        OPENSSL: _NO_AKI,
        CERTVALIDATOR: "certvalidator raises AssertionError checking the P-384 signature with "
                       "the same-DN RSA anchor it tries first (the crash we used to inherit)"},
    "next-generation-no-aki-p384-first": {OPENSSL: _NO_AKI},
    "crl-delta": {OPENSSL: "openssl without -use_deltas takes a delta CRL for a complete one; a "
                           "delta lists only changes since its base (RFC 5280 §5.2.4), so "
                           "'not listed' proves nothing: we refuse"},
    "ku-digital-signature-only": {OPENSSL: _KU_OPENSSL},
    "ku-non-repudiation-only": {OPENSSL: _KU_OPENSSL},
    "ku-missing": {OPENSSL: _KU_OPENSSL},
    "ee-rsa-1024": dict.fromkeys(BOTH, _WEAK_KEY),
    "ee-p224": dict.fromkeys(BOTH, _WEAK_KEY),
    "policy-any": dict.fromkeys(BOTH, "JPKI profile: the end-entity must name the JPKI policy "
                                      "itself; RFC 5280 §6.1 lets anyPolicy match it"),
    "serial-negative": dict.fromkeys(BOTH, _SERIAL),
    "serial-zero": dict.fromkeys(BOTH, _SERIAL),
    "one-second-early": {CERTVALIDATOR: "certvalidator's default 1 s validity tolerance; ours "
                                        "is 0 (openssl agrees with us)"},
    "one-second-late": {CERTVALIDATOR: "certvalidator's default 1 s validity tolerance; ours "
                                       "is 0 (openssl agrees with us)"},
    "root-expired": {CERTVALIDATOR: "certvalidator does not check a trust anchor's own "
                                    "validity; we and openssl do (a J-LIS root past notAfter "
                                    "is one J-LIS no longer stands behind)"},
    "root-not-yet-valid": {CERTVALIDATOR: "certvalidator does not check a trust anchor's own "
                                          "validity; we and openssl do"},
    "root-not-ca": {CERTVALIDATOR: "certvalidator accepts an anchor without CA "
                                   "basicConstraints; we and openssl refuse it"},
    "ee-claims-ca": {CERTVALIDATOR: "JPKI profile: an end-entity must not be a CA "
                                    "(openssl refuses too, for its missing SKI)"},
    "duplicate-extension": {CERTVALIDATOR: _DUPLICATE},
    "two-subject-alt-names": {CERTVALIDATOR: _DUPLICATE},
    "crl-partition-duplicate-extension": {CERTVALIDATOR: _DUPLICATE},
    "v1-with-extensions": {CERTVALIDATOR: "RFC 5280 §4.1.2.1: extensions only in v3; "
                                          "certvalidator ignores the version, openssl refuses"},
    "v2-with-extensions": {CERTVALIDATOR: "RFC 5280 §4.1.2.1: extensions only in v3; "
                                          "certvalidator ignores the version, openssl refuses"},
    "inner-algorithm-differs": {CERTVALIDATOR: "RFC 5280 §4.1.1.2: tbsCertificate.signature "
                                               "MUST equal signatureAlgorithm; certvalidator "
                                               "does not compare them, openssl refuses"},
    "crl-unknown-critical-entry-extension": {
        CERTVALIDATOR: "RFC 5280 §5.3: a CRL with an unrecognised critical entry extension "
                       "must not be used; certvalidator ignores entry criticality, openssl "
                       "refuses"},
}
for _name in ("identity-rlo-in-name", "identity-zero-width-in-name",
              "identity-private-use-in-address", "identity-flags-too-short",
              "identity-era-mismatch"):
    _ENTRIES[_name] = dict.fromkeys(BOTH, _PROFILE_IDENTITY)

ALLOWED: dict[tuple[str, str], str] = {
    (mutation, oracle): reason
    for mutation, by_oracle in _ENTRIES.items() for oracle, reason in by_oracle.items()}
