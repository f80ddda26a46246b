"""One tap's card state, from the identification to the flow, on one exclusive connection.

Each APDU is a round trip to the card (10-50 ms on real readers), so a tap sends each command
once: ``prepare_tap`` selects the flow's AP, reads what needs no credential (the auth
certificate for ``auth``, the AP's CVC for ``face`` and ``number``, the certificate-presence
flags for ``sign``) and then queries the retry counter, leaving the credential's IEF current.
The flow then continues from there: VERIFY without re-selecting, the protected reads, the
signature. Whole objects are read with one extended-length READ BINARY when the link carries
extended APDUs, with short reads as the fallback. Imports only ``card``: the agent prepares a
tap without loading the verifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from card.apps.input_helper import InputHelperApp
from card.apps.jpki import CertificateKind, JpkiApp, PinKind
from card.apps.surface import SurfaceApp, SurfaceKey
from card.channel import ApduChannel
from card.errors import ApduError, ApplicationNotFoundError, BadResponseError
from card.ids import AID
from card.sw import SW
from card.transports import CardConnection

T = TypeVar("T")
StepRunner = Callable[[str, Callable[[], Any]], Any]
AID_FOR_FLOW = {"sign": AID.JPKI, "auth": AID.JPKI, "face": AID.SURFACE,
                "number": AID.INPUT_HELPER}


@dataclass(slots=True)
class PreparedTap:
    """Where the card is after ``prepare_tap``: the AP selected, the credential's IEF current.

    ``tries`` is the counter as the card last reported it (the retry query, or the 63Cx of a
    refused VERIFY on this connection), so the flow never asks again.
    """

    flow: str
    connection: CardConnection
    channel: ApduChannel
    tries: int
    has_sign_certificate: bool | None = None
    auth_certificate: bytes | None = None
    cvc: bytes | None = None

    def continues(self, connection: CardConnection, flow: str) -> bool:
        """True when a flow on ``connection`` can pick up from this state."""
        return self.connection is connection and self.flow == flow


def open_channel(connection: CardConnection) -> ApduChannel:
    """A channel that reads whole objects in one extended READ when the link allows it."""
    return ApduChannel(connection, extended_reads=connection.extended_apdus)


def select_ap(channel: ApduChannel, aid: bytes) -> None:
    """SELECT the AP; some cards answer the first command after power-on with 6F00 (reference
    §6.4, SOL): one retry, then an unknown AID really means UNSUPPORTED_CARD."""
    try:
        channel.select_aid(aid)
    except ApplicationNotFoundError as e:
        if e.sw != SW.INTERNAL_ERROR:
            raise
        channel.select_aid(aid)


def _optional(read: Callable[[], T]) -> T | None:
    """A prefetch the card refuses or answers badly is left to the flow, which reads it again
    after the credential and reports it as it always has; a lost card still ends the tap."""
    try:
        return read()
    except (ApduError, BadResponseError):
        return None


def _direct(name: str, read: Callable[[], T]) -> T:
    return read()


def prepare_tap(flow: str, connection: CardConnection, *,
                run_step: StepRunner = _direct) -> PreparedTap:
    """Identify the card for ``flow``, prefetch what needs no credential, read the counter.

    ``run_step(name, fn)`` runs each part (the flows report them as steps when they prepare
    by themselves).

    :raises CardError: the card or link failed (nothing was spent: no VERIFY with data is sent).
    """
    channel = open_channel(connection)
    run_step("select", lambda: select_ap(channel, AID_FOR_FLOW[flow]))
    tap = PreparedTap(flow, connection, channel, tries=0)
    if flow in ("sign", "auth"):
        jpki = JpkiApp(channel)
        kind = PinKind.SIGN if flow == "sign" else PinKind.AUTH
        if flow == "sign":
            tap.has_sign_certificate = run_step(
                "check_sign_certificate", lambda: _optional(jpki.has_sign_certificate))
        else:
            tap.auth_certificate = run_step("read_certificate", lambda: _optional(
                lambda: jpki.read_certificate(CertificateKind.AUTH)))
        tap.tries = run_step("read_retry_counter", lambda: jpki.tries_left(kind))
    elif flow == "face":
        surface = SurfaceApp(channel)
        tap.cvc = run_step("read_cvc", lambda: _optional(surface.read_cvc))
        tap.tries = run_step("read_retry_counter", lambda: surface.tries_left(SurfaceKey.MATCH_B))
    else:
        helper = InputHelperApp(channel)
        tap.cvc = run_step("read_cvc", lambda: _optional(helper.read_cvc))
        tap.tries = run_step("read_retry_counter", helper.tries_left)
    return tap
