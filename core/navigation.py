"""What the navigation bar shows the signed-in user (the ``portal_nav`` template tag). Its menus
follow the user's scope, which ``alliances.scoping`` computes, a layer above core: alliances registers
the function at start (``AlliancesConfig.ready``) instead of core importing it."""

from __future__ import annotations

from collections.abc import Callable

_source: Callable[[object], dict] | None = None


def register(func: Callable[[object], dict]) -> None:
    """Set the function that gives the navigation context of a signed-in user."""
    global _source
    _source = func


def context_for(user) -> dict:
    """The navigation context of the signed-in ``user`` (empty when no app registered one)."""
    return _source(user) if _source is not None else {}
