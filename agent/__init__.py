"""The myna agent: verification, flows, the per-tap session service and the `myna` command."""

__version__ = "0.1.0"
