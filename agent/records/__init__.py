"""Verification records (確認記録): build, sign, keep in an encrypted outbox, deliver.

May import ``agent.verification`` only, never ``agent.service`` or ``agent.cli``: the service
wires it in, and the back office re-derives statements with ``agent.records.statement``.
"""
