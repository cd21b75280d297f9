"""The storage of Django's flash messages (``MESSAGE_STORAGE``): the cookie, then the session, as
Django's ``FallbackStorage``, but bounded. Messages nobody has read yet pile up in the cookie when a
client posts without following the redirect to a page that shows them (a script, the load
benchmark, a form posted again and again in the background); every request then decodes and
encodes them all, so its cost grew with the number of unread messages. Here a message equal to a
newer unread one is dropped (the newer says the same) and at most ``KEEP`` messages are kept, the
newest."""

from __future__ import annotations

from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.fallback import FallbackStorage

KEEP = 10


def bounded(messages: list[Message], keep: int = KEEP) -> list[Message]:
    """The newest ``keep`` distinct messages, in their order."""
    kept: list[Message] = []
    seen: set[tuple] = set()
    for message in reversed(messages):
        key = (message.level, str(message.message), message.extra_tags or "")
        if key in seen:
            continue
        seen.add(key)
        kept.append(message)
        if len(kept) == keep:
            break
    kept.reverse()
    return kept


class BoundedFallbackStorage(FallbackStorage):
    def _store(self, messages, response, *args, **kwargs):
        return super()._store(bounded(list(messages)), response, *args, **kwargs)
