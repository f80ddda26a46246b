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
