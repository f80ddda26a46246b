"""PC/SC access modes against the emulator behind the private pcscd (reference §6.4)."""

from __future__ import annotations

import pytest

from card.apps.jpki import JpkiApp, PinKind
from card.channel import ApduChannel
from card.errors import CardBusyError

pytestmark = pytest.mark.pcsc


@pytest.fixture
def pcsc_reader(card_reader, request):
    if request.node.callspec.params["card_reader"] != "pcsc":
        pytest.skip("PC/SC sharing modes exist only on the pcsc backend")
    reader, _card = card_reader("yamada-taro")
    return reader


def test_exclusive_access_refused_is_an_error_not_a_shared_fallback(pcsc_reader):
    # A PIN verified on a shared connection could be used by the other program.
    with pcsc_reader.connect(exclusive=True) as first:
        assert JpkiApp(ApduChannel(first)).tries_left(PinKind.AUTH) == 3
        with pytest.raises(CardBusyError):
            pcsc_reader.connect(exclusive=True)
        with pytest.raises(CardBusyError):
            pcsc_reader.connect(exclusive=False)  # pcscd refuses shared while exclusive is held
    with pcsc_reader.connect(exclusive=True) as again:  # released: usable again
        assert JpkiApp(ApduChannel(again)).tries_left(PinKind.AUTH) == 3


def test_card_pulled_between_apdus_is_card_removed(pcscd):
    # vpcd answers a transmit to a vanished card with "Transaction failed" before pcscd's next
    # presence poll; the kiosk must still hear "card removed", not "reader failure".
    from card.emulator import PERSONAS, VirtualMynaCard
    from card.emulator.vpcd import VpcdBridge
    from card.errors import CardRemovedError
    from card.transports import open_reader
    from tests.conftest import VPCD_READER, _wait_presence

    bridge = VpcdBridge(VirtualMynaCard(PERSONAS["yamada-taro"]), port=pcscd.port)
    bridge.start()
    reader = open_reader(f"pcsc:{VPCD_READER}")
    _wait_presence(reader, True)
    with reader.connect(exclusive=True) as connection:
        app = JpkiApp(ApduChannel(connection))
        assert app.tries_left(PinKind.AUTH) == 3
        bridge.remove()
        with pytest.raises(CardRemovedError):
            app.tries_left(PinKind.SIGN)
    _wait_presence(reader, False)
