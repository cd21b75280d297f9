from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """A row written by the ``core.jobs.heartbeat`` job: proof that a worker runs."""

    worker = models.CharField(_("worker"), max_length=200)
    beat_at = models.DateTimeField(_("beat at"), db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-beat_at"]

    def __str__(self) -> str:
        return f"{self.worker} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"


class SecurityEvent(models.Model):
    """One row of the security log (安全审计日志). Append-only: the database refuses UPDATE, and DELETE
    of rows younger than the legal minimum (triggers made by the migration); each row carries the
    hash of the previous one, so a row changed or removed behind the application's back shows
    (``manage.py audit_verify``). Written only by ``core.audit.record``.

    The table is not managed by Django's flush (``managed = False``; the migration makes it), so a
    test run that empties the other tables cannot trip the triggers or break the chain."""

    class Result(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        DENIED = "denied", _("Denied")

    seq = models.BigIntegerField(_("sequence"), unique=True)
    time = models.DateTimeField(_("time"), db_index=True)
    event = models.CharField(_("event"), max_length=40, db_index=True)
    result = models.CharField(_("result"), max_length=10, choices=Result.choices, default=Result.SUCCESS)
    # The acting user (null when nobody was signed in, e.g. a failed sign-in); the name as typed or
    # as it was then, so the row reads the same whatever later happens to the account.
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True, db_index=True)
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    address = models.CharField(_("address"), max_length=45, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    target_type = models.CharField(_("target type"), max_length=40, blank=True)
    target_id = models.CharField(_("target id"), max_length=40, blank=True)
    target_repr = models.CharField(_("target"), max_length=200, blank=True)
    # The county the event belongs to (the target's, else the actor's): what a county's auditor sees.
    county_id = models.BigIntegerField(_("county"), null=True, blank=True, db_index=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        managed = False
        db_table = "core_securityevent"
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-seq"]
        # Indexes (county, seq) and (target, seq) are made by the migration with the table.

    def __str__(self) -> str:
        return f"{self.seq} {self.event} {self.actor_username}"


class AuditChain(models.Model):
    """The head of the security log's hash chain (one row, pk=1): the last sequence number and hash,
    and where the chain starts after a retention purge. Not flushed by Django either."""

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
    start_seq = models.BigIntegerField(default=1)
    start_prev_hash = models.CharField(max_length=64)

    class Meta:
        managed = False
        db_table = "core_auditchain"

    def __str__(self) -> str:
        return f"security log chain at {self.last_seq}"


class ImportMapping(models.Model):
    """How a county's files of one register map their columns to the register's fields, saved when
    a user maps a file's columns in the preview and applied to the next file with the same headers
    (``signature``: the normalised titles in order). ``scope`` is the county's id."""

    register = models.CharField(_("register"), max_length=40)
    scope = models.BigIntegerField(_("county"))
    signature = models.CharField(_("header signature"), max_length=64)
    headers = models.JSONField(_("headers"), default=list)  # the titles as written, for the page
    mapping = models.JSONField(_("mapping"), default=dict)  # {column key: field name or null}
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        constraints = [models.UniqueConstraint(fields=["register", "scope", "signature"],
                                               name="importmapping_unique")]

    def __str__(self) -> str:
        return f"{self.register}@{self.scope}"
