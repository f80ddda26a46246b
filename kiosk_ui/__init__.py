"""The Flask kiosk UI (talks only to the agent's local API)."""
