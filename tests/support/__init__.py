"""Test harness helpers (not product code)."""
