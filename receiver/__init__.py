"""``myna receiver``: the back office that takes verification records (確認記録) from kiosks.

It trusts no kiosk: every record's JWS is checked against the key registered for that kiosk, and
the card evidence inside it is verified again with the project's verification core
(``agent.verification``) before the record is stored, exactly once, with the receiver's own
verdict. Identity fields are encrypted at rest, so a database dump alone reveals nobody.
"""
