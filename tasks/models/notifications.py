"""Changes of assignments worth telling people about, and the daily digest that tells them.

Detect, then act (healthchecks' ``Flip``): a change is recorded once as an ``AssignmentEvent``
(unique per assignment, kind and key); the digest step gathers the events not yet sent to a
person into that person's one ``Notification`` of the day. ``NotificationItem`` is unique per
person and event, so nobody is told of the same event twice."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.models import Region
from tasks.models.assignments import Assignment


class AssignmentEvent(models.Model):
    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", _("Became due soon")
        OVERDUE = "overdue", _("Became overdue")
        BEHIND = "behind", _("Fell behind")
        RETURNED = "returned", _("Progress report returned")
        ORDER = "order", _("Supervision order issued")
        TARGET_MET = "target_met", _("Target met: done by itself")
        TARGET_UNMET = "target_unmet", _("Target no longer met: open again")
        TARGET_AWAY = "target_away", _("Indicator moving away from the target")

    assignment = models.ForeignKey(Assignment, verbose_name=_("assignment"), on_delete=models.CASCADE,
                                   related_name="events")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=40,
                           help_text=_("What makes the event one: the due date, the month, the report or order."))
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    happened_at = models.DateTimeField(_("happened at"))
    processed_at = models.DateTimeField(_("sent to everyone at"), null=True, blank=True)

    class Meta:
        verbose_name = _("assignment event")
        verbose_name_plural = _("assignment events")
        ordering = ["happened_at", "pk"]
        indexes = [models.Index(fields=["happened_at"], name="event_unprocessed",
                                condition=Q(processed_at__isnull=True))]
        constraints = [models.UniqueConstraint(fields=["assignment", "kind", "key"], name="event_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.assignment_id} · {self.key}"


class Notification(models.Model):
    """One person's digest of one day, in the portal and by e-mail."""

    class EmailState(models.TextChoices):
        NONE = "none", _("No e-mail address")
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="notifications")
    day = models.DateField(_("day"))
    title = models.CharField(_("title"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_state = models.CharField(_("e-mail"), max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    email_error = models.CharField(_("e-mail error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-day", "-pk"]
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="notification_one_digest_a_day")]

    def __str__(self) -> str:
        return self.title


class NotificationItem(models.Model):
    notification = models.ForeignKey(Notification, verbose_name=_("notification"), on_delete=models.CASCADE,
                                     related_name="items")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="+")
    event = models.ForeignKey(AssignmentEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+")
    text = models.CharField(_("text"), max_length=500)
    url = models.CharField(_("link"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("notification item")
        verbose_name_plural = _("notification items")
        ordering = ["notification_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="notification_item_once_per_person")]

    def __str__(self) -> str:
        return self.text
