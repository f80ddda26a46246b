"""The verification core: trust anchors, path validation, revocation, identity, CVC records and
the four flows. Imports nothing from the service or the command line, so the receiver can use it."""
