"""The software My Number card (emulator): ``VirtualMynaCard`` answers APDUs like the real card
(reference card-protocol.md §13), built from ``PERSONAS`` under a deterministic test PKI
(``export_trust`` writes its roots, CRL and CVC issuer keys). Imports only ``card.ids`` and
``card.sw`` from the host side (docs/architecture.md "Rules").
"""

from __future__ import annotations

from card.emulator.card import ATR, VirtualMynaCard
from card.emulator.faults import CardPulled, Faults, LoggedApdu
from card.emulator.personas import PERSONAS, Persona
from card.emulator.pki import export_trust

__all__ = [
    "ATR",
    "PERSONAS",
    "CardPulled",
    "Faults",
    "LoggedApdu",
    "Persona",
    "VirtualMynaCard",
    "export_trust",
]
