"""Test suite (a package so that tests/card never shadows the real card package)."""
