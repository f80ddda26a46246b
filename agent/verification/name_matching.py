"""RFC 5280 §7.1 name matching, remembered: asn1crypto's, made cheap for a fleet of cards.

certvalidator matches names many times per path (the leaf's issuer against each anchor, the
issuer against the anchor's subject again while processing, names as dictionary keys), and
asn1crypto rebuilds every attribute's RFC 4518 preparation each time. Each step below is a pure
function of text or of exact DER bytes, so remembering it cannot change a match; each memory is
bounded. With another asn1crypto whose internals differ, ``install`` leaves a step as it is:
matching stays correct, only slower.
"""

from __future__ import annotations

import functools
from typing import Any

from asn1crypto import x509

MAX_PREPARED_NAME_VALUES = 4096
MAX_REMEMBERED_NAMES = 1024
MAX_REMEMBERED_PAIRS = 1024


def _memoise_value_preparation() -> None:
    """RFC 4518 string preparation of one attribute value, remembered by the value's text: every
    leaf under one CA repeats the issuer's values and most of its subject's (country,
    locality), so a fleet of distinct cards hits too."""
    prepare = getattr(x509.NameTypeAndValue, "_ldap_string_prep", None)
    if prepare is None or getattr(prepare, "memoised", False):
        return

    @functools.lru_cache(maxsize=MAX_PREPARED_NAME_VALUES)
    def prepared(string: str) -> str:
        return str(prepare(None, string))  # the method never reads ``self``

    def memoised(_self: Any, string: str) -> str:
        return prepared(string)

    memoised.memoised = True  # type: ignore[attr-defined]
    x509.NameTypeAndValue._ldap_string_prep = memoised


def _memoise_comparison_form() -> None:
    """A whole name's comparison form (``RDNSequence.hashable``, which certvalidator uses as a
    dictionary key for names), remembered by the name's DER."""
    prop = getattr(x509.RDNSequence, "hashable", None)
    compute = prop.fget if isinstance(prop, property) else None
    if compute is None or getattr(compute, "memoised", False):
        return
    remembered: dict[bytes, str] = {}

    def memoised(self: Any) -> str:
        der = self.dump()
        form = remembered.get(der)
        if form is None:
            form = compute(self)
            if len(remembered) >= MAX_REMEMBERED_NAMES:
                remembered.clear()
            remembered[der] = form
        return form

    memoised.memoised = True  # type: ignore[attr-defined]
    x509.RDNSequence.hashable = property(memoised)


def _memoise_equality() -> None:
    """Whether two names match (``RDNSequence.__eq__``, behind ``Name.__eq__``: RDN by RDN,
    attribute by attribute), remembered by the pair of DER encodings: every leaf of one CA
    names the same issuer, matched against the same anchor's subject on every path."""
    compare = x509.RDNSequence.__eq__
    if getattr(compare, "memoised", False):
        return
    remembered: dict[tuple[bytes, bytes], bool] = {}

    def memoised(self: Any, other: Any) -> bool:
        if not isinstance(other, x509.RDNSequence):
            return bool(compare(self, other))
        key = (self.dump(), other.dump())
        same = remembered.get(key)
        if same is None:
            same = bool(compare(self, other))
            if len(remembered) >= MAX_REMEMBERED_PAIRS:
                remembered.clear()
            remembered[key] = same
        return same

    memoised.memoised = True  # type: ignore[attr-defined]
    memoised.original = compare  # type: ignore[attr-defined]
    x509.RDNSequence.__eq__ = memoised  # type: ignore[method-assign]


def install() -> None:
    _memoise_value_preparation()
    _memoise_comparison_form()
    _memoise_equality()
