"""Commands run as another local user (``nobody``), for tests of what such a user can reach.

Nothing such a command runs may come from the checkout: a checkout under a private directory
(``mktemp -d``, /root) cannot be traversed by ``nobody``, so neither the venv's interpreter nor
its packages are reachable. The scripts therefore run on Debian's ``/usr/bin/python3`` with the
standard library alone (``-I``: no venv, no PYTHONPATH, no user site directory), and anything
else they need is staged in a world-readable temporary directory. Becoming ``nobody`` needs root.
"""

from __future__ import annotations

SYSTEM_PYTHON = "/usr/bin/python3"


def as_nobody(*argv: str, group: str = "nogroup") -> list[str]:
    """``argv`` run as ``nobody`` in ``group``, with no supplementary groups."""
    return ["/usr/bin/setpriv", "--reuid=nobody", f"--regid={group}", "--clear-groups", *argv]


def python_as_nobody(script: str, *args: str, group: str = "nogroup") -> list[str]:
    """A stdlib-only Python ``script`` (``-c``) with ``args``, run as ``nobody``."""
    return as_nobody(SYSTEM_PYTHON, "-I", "-c", script, *args, group=group)
