"""An SMTP server that can be down: the outside world the report tests replace. While ``down`` is
set every message fails as an unreachable server would; otherwise messages go to Django's
``mail.outbox`` like the locmem backend."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.locmem import EmailBackend


class FlakyBackend(EmailBackend):
    down = False

    def send_messages(self, messages):
        if FlakyBackend.down:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)
