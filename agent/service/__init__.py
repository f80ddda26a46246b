"""The long-running agent: config, the per-tap session machine, reader watching, the local API,
live events, the audit log."""
