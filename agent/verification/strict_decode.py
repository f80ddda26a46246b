"""Strict decoding of a certificate: every field must decode, or the certificate is malformed.

asn1crypto decodes lazily, so a field nobody reads is never checked. ``decode_every_field``
decodes them all now (asn1crypto's full decode, ``.native``), so a hostile encoding is refused
here, by name, and not later inside the path validator.

Fields are decoded one by one, and a field whose exact bytes at the same place decoded before
in this process is not decoded again. Whether a field decodes is a function of its bytes and
its place alone (the place, kept with the bytes, fixes the ASN.1 type; an extension's bytes
include its OID, which fixes the type of its value), so skipping a field seen before cannot
change a verdict. It matters for a receiver of a whole fleet: the issuer's name, the
algorithms and most extensions (key usage, policies, CRL distribution points, the authority
key id, the issuer's alternative name) are the same bytes in every certificate one CA issues,
and were most of the decode's cost; only each card's own fields (serial, validity, subject,
key, alternative name) are new.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import x509

MAX_REMEMBERED_FIELDS = 4096
_decoded: set[tuple[str, int, type, bytes]] = set()


def _decode(place: str, index: int, value: Any) -> None:
    key = (place, index, type(value), value.dump())
    if key in _decoded:
        return
    value.native  # noqa: B018 - the full decode; raises on a malformed field
    if len(_decoded) >= MAX_REMEMBERED_FIELDS:
        _decoded.clear()
    _decoded.add(key)


def decode_every_field(cert: x509.Certificate) -> None:
    """Decode every part of ``cert`` as its whole decode would; raises whatever asn1crypto
    raises on a malformed one.

    Parts are walked by position, not by field name: asn1crypto keeps an element that fits no
    field as an extra child, which a name never reaches but the whole decode does."""
    for index in range(len(cert)):
        part = cert[index]
        if not isinstance(part, x509.TbsCertificate):
            _decode("certificate", index, part)
            continue
        for field_index in range(len(part)):
            field = part[field_index]
            if isinstance(field, x509.Extensions):
                for extension in field:  # its OID is in its bytes, and fixes its value's type
                    _decode("extension", 0, extension)
            else:
                _decode("tbs", field_index, field)  # absent optional fields decode as None
