"""Subcommands of the `myna` command, one module per group."""
