"""The software My Number card (emulator)."""
