"""Dialplan applications (``Answer``, ``Dial``, ``Gosub``, ``Playback``, ...), Asterisk-compatible."""

from __future__ import annotations

from core.dialplan.executor import ApplicationRegistry


def default_applications() -> ApplicationRegistry:
    """A registry with every built-in application."""
    from core.apps import basic, cdr, dial, flow, media

    registry = ApplicationRegistry()
    for module in (basic, flow, dial, media, cdr):
        module.register(registry)
    return registry
