"""The ``myna`` command line."""

from agent.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
