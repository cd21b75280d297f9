"""The security log (安全审计, GB/T 22239-2019 §8.1.4.3): one append-only, hash-chained record of every
security-relevant action. ``record`` is the only writer.

Each row's keyed hash (HMAC-SHA256, ``AUDIT_CHAIN_KEY``) covers its content and the previous row's hash, so ``verify`` finds the first row
changed, removed or inserted behind the application's back. Writers take the chain's head row
``FOR UPDATE``, so two events written at the same moment get consecutive sequence numbers and a
valid chain (the lock is held to the end of the writer's transaction: record events last).

The database refuses UPDATE of a row and DELETE of a row younger than ``LEGAL_MINIMUM_DAYS``
(triggers made by ``core/migrations``); ``purge`` deletes a prefix of the chain older than the
retention and records the chain's new start.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AuditChain, SecurityEvent

GENESIS = "0" * 64
# 网络安全法 第二十一条: network logs are kept at least six months.
LEGAL_MINIMUM_DAYS = 180

SUCCESS = SecurityEvent.Result.SUCCESS
FAILURE = SecurityEvent.Result.FAILURE
DENIED = SecurityEvent.Result.DENIED


class Event:
    """Event codes of the security log, with their Chinese labels (``LABELS``)."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOCKOUT = "auth.lockout"
    LOGOUT = "auth.logout"
    IDLE_TIMEOUT = "auth.idle_timeout"
    SESSION_EXPIRED = "auth.session_expired"
    PASSWORD_CHANGE = "password.change"
    PASSWORD_RESET = "password.reset"
    OTP_ENROL = "otp.enrol"
    OTP_RESET = "otp.reset"
    OTP_FAILED = "otp.failed"
    OTP_RECOVERY_USED = "otp.recovery_used"
    OTP_RECOVERY_NEW = "otp.recovery_new"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_FAILED = "token.failed"
    USER_CREATE = "user.create"
    USER_EDIT = "user.edit"
    USER_DEACTIVATE = "user.deactivate"
    USER_REACTIVATE = "user.reactivate"
    USER_UNLOCK = "user.unlock"
    PROFILE_EDIT = "profile.edit"
    GRANT_ADD = "grant.add"
    GRANT_REMOVE = "grant.remove"
    GRANT_DENIED = "grant.denied"
    COUNTY_CREATE = "county.create"
    IDENTITY_VIEW = "identity.view"
    EXPORT_PERSONAL = "export.personal"
    IMPORT_CONFIRM = "import.confirm"
    FILING_UNLOCK = "filing.unlock"
    REPORT_SIGNOFF = "report.signoff"
    WEBHOOK_ADD = "webhook.add"
    WEBHOOK_REMOVE = "webhook.remove"
    TARGET_LINK = "target.link"
    TARGET_CHANGE = "target.change"
    TARGET_UNLINK = "target.unlink"
    ALERT_RULE_ADD = "alert_rule.add"
    ALERT_RULE_CHANGE = "alert_rule.change"
    ALERT_RULE_DISABLE = "alert_rule.disable"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    AUDIT_PURGE = "audit.purge"
    BACKUP_MADE = "backup.made"
    BACKUP_RESTORED = "backup.restored"


LABELS: dict[str, Any] = {
    Event.LOGIN: _("Sign-in"),
    Event.LOGIN_FAILED: _("Failed sign-in"),
    Event.LOCKOUT: _("Account locked out"),
    Event.LOGOUT: _("Sign-out"),
    Event.IDLE_TIMEOUT: _("Signed out after idle time"),
    Event.SESSION_EXPIRED: _("Session reached its time limit"),
    Event.PASSWORD_CHANGE: _("Password changed"),
    Event.PASSWORD_RESET: _("Password reset by an administrator"),
    Event.OTP_ENROL: _("Two-factor sign-in enrolled"),
    Event.OTP_RESET: _("Two-factor sign-in reset"),
    Event.OTP_FAILED: _("Wrong two-factor code"),
    Event.OTP_RECOVERY_USED: _("Recovery code used"),
    Event.OTP_RECOVERY_NEW: _("New recovery codes made"),
    Event.TOKEN_CREATE: _("API token created"),
    Event.TOKEN_REVOKE: _("API token revoked"),
    Event.TOKEN_FAILED: _("Failed API token request"),
    Event.USER_CREATE: _("User created"),
    Event.USER_EDIT: _("User edited"),
    Event.USER_DEACTIVATE: _("User deactivated"),
    Event.USER_REACTIVATE: _("User reactivated"),
    Event.USER_UNLOCK: _("User unlocked"),
    Event.PROFILE_EDIT: _("Own details edited"),
    Event.GRANT_ADD: _("Role granted"),
    Event.GRANT_REMOVE: _("Role revoked"),
    Event.GRANT_DENIED: _("Grant refused"),
    Event.COUNTY_CREATE: _("County created"),
    Event.IDENTITY_VIEW: _("Full identity number viewed"),
    Event.EXPORT_PERSONAL: _("Export with personal data"),
    Event.IMPORT_CONFIRM: _("Import confirmed"),
    Event.FILING_UNLOCK: _("Filing unlocked"),
    Event.REPORT_SIGNOFF: _("Report signed off"),
    Event.WEBHOOK_ADD: _("Group robot added"),
    Event.WEBHOOK_REMOVE: _("Group robot removed"),
    Event.TARGET_LINK: _("Indicator linked to a task item"),
    Event.TARGET_CHANGE: _("Target of a task item changed"),
    Event.TARGET_UNLINK: _("Indicator unlinked from a task item"),
    Event.ALERT_RULE_ADD: _("Alert rule added"),
    Event.ALERT_RULE_CHANGE: _("Alert rule changed"),
    Event.ALERT_RULE_DISABLE: _("Alert rule disabled"),
    Event.ALERT_ACKNOWLEDGE: _("Alert acknowledged"),
    Event.AUDIT_PURGE: _("Security log purged"),
    Event.BACKUP_MADE: _("Backup made"),
    Event.BACKUP_RESTORED: _("Restored from a backup"),
}


def label(event: str) -> str:
    return str(LABELS.get(event, event))


# Which county an object belongs to, for the auditors of that county. Apps register their models
# (``register_county``); a User's county comes from its own resolver, registered by ``accounts``.
_COUNTY_OF: dict[type, Callable[[Any], int | None]] = {}


def register_county(model: type, func: Callable[[Any], int | None]) -> None:
    _COUNTY_OF[model] = func


def county_of(obj) -> int | None:
    if obj is None:
        return None
    for klass in type(obj).__mro__:
        func = _COUNTY_OF.get(klass)
        if func is not None:
            return func(obj)
    county_id = getattr(obj, "county_id", None)
    return county_id if isinstance(county_id, int) else None


# Request details ---------------------------------------------------------------------------

def client_ip(request) -> str:
    """The client's address. Behind a reverse proxy listed in ``PORTAL_TRUSTED_PROXIES`` (addresses
    or networks), the rightmost address of X-Forwarded-For that is not itself a trusted proxy;
    otherwise the peer address. Used by the lockout (django-axes) and the security log alike."""
    if request is None:
        return ""
    remote = _normal_ip(request.META.get("REMOTE_ADDR", ""))
    trusted = _trusted_networks()
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for part in reversed([p.strip() for p in forwarded.split(",") if p.strip()]):
        address = _normal_ip(part)
        if not address:
            break  # garbage in the header: do not trust anything left of it
        if not _is_trusted(address, trusted):
            return address
    return remote


def _normal_ip(value: str) -> str:
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1 and "." in value:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


_NETWORKS_CACHE: dict[tuple, list] = {}


def _trusted_networks() -> list:
    raw = tuple(getattr(settings, "PORTAL_TRUSTED_PROXIES", ()) or ())
    if raw not in _NETWORKS_CACHE:
        _NETWORKS_CACHE[raw] = [ipaddress.ip_network(item, strict=False) for item in raw]
    return _NETWORKS_CACHE[raw]


def _is_trusted(address: str, networks: list) -> bool:
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)


def user_agent(request) -> str:
    if request is None:
        return ""
    return (request.META.get("HTTP_USER_AGENT") or "")[:300]


# Writing ----------------------------------------------------------------------------------------

def _plain(value):
    """Details as plain JSON (no floats, whose text may differ between databases)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    return str(value)


def _time_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_key() -> bytes:
    """The key of the chain's HMAC: ``AUDIT_CHAIN_KEY``, else derived from ``SECRET_KEY``. Someone who can
    write to the database but does not hold the key cannot forge a row the chain accepts. Changing the
    key makes the rows written before fail ``verify``: keep it, apart from the database and its backups."""
    secret = getattr(settings, "AUDIT_CHAIN_KEY", "") or settings.SECRET_KEY
    return hashlib.sha256(b"portal-security-log:" + secret.encode()).digest()


def row_hash(row: SecurityEvent) -> str:
    """The keyed hash (HMAC-SHA256) of a row: its content and the previous row's hash."""
    content = [
        row.seq, _time_text(row.time), row.event, row.result, row.actor_id, row.actor_username, row.address,
        row.user_agent, row.target_type, row.target_id, row.target_repr, row.county_id, row.details,
    ]
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(chain_key(), (row.prev_hash + text).encode(), hashlib.sha256).hexdigest()


def _target_fields(target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, Model):
        return target._meta.label_lower, str(target.pk), str(target)[:200]
    return type(target).__name__.lower(), "", str(target)[:200]


def record(
    event: str,
    *,
    request=None,
    actor=None,
    username: str | None = None,
    target=None,
    result: str = SUCCESS,
    details: dict | None = None,
    county_id: int | None = None,
    address: str | None = None,
    now: datetime | None = None,
) -> SecurityEvent:
    """Append one event to the security log, in the caller's transaction (call it last: the chain's
    head stays locked until the transaction ends). ``actor`` defaults to the request's user;
    ``username`` is the name typed when nobody is signed in. ``target`` is a model instance (or
    anything with a ``str``). The county is given, or that of the target, else of the actor.
    Two queries and an insert."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            actor = user
    target_type, target_id, target_repr = _target_fields(target)
    if county_id is None:
        county_id = county_of(target) if isinstance(target, Model) else None
    if county_id is None and actor is not None:
        county_id = county_of(actor)
    with transaction.atomic():
        head = _locked_head()
        row = SecurityEvent(
            seq=head.last_seq + 1,
            time=now or timezone.now(),
            event=event,
            result=result,
            actor_id=actor.pk if actor is not None else None,
            actor_username=(actor.get_username() if actor is not None else (username or ""))[:150],
            address=address if address is not None else client_ip(request),
            user_agent=user_agent(request),
            target_type=target_type,
            target_id=target_id,
            target_repr=target_repr,
            county_id=county_id,
            details=_plain(details or {}),
            prev_hash=head.last_hash,
        )
        row.hash = row_hash(row)
        row.save(force_insert=True)
        AuditChain.objects.filter(pk=1).update(last_seq=row.seq, last_hash=row.hash)
    return row


@dataclass
class Pending:
    """One event for ``record_many`` (the same meaning as ``record``'s arguments)."""

    event: str
    actor: Any = None
    username: str | None = None
    target: Any = None
    result: str = SUCCESS
    details: dict | None = None
    county_id: int | None = None


def record_many(events: list[Pending], *, request=None, now: datetime | None = None) -> list[SecurityEvent]:
    """Append many events at once (an import of hundreds of accounts): one lock of the chain's head,
    one insert of all rows, whatever their number (the counties of actors and targets must be given,
    or be resolvable without a query, e.g. ``User.county_id``)."""
    if not events:
        return []
    now = now or timezone.now()
    address, agent = client_ip(request), user_agent(request)
    request_user = getattr(request, "user", None) if request is not None else None
    if request_user is not None and not getattr(request_user, "is_authenticated", False):
        request_user = None
    rows = []
    with transaction.atomic():
        head = _locked_head()
        seq, prev = head.last_seq, head.last_hash
        for pending in events:
            actor = pending.actor or request_user
            target_type, target_id, target_repr = _target_fields(pending.target)
            county_id = pending.county_id
            if county_id is None and isinstance(pending.target, Model):
                county_id = county_of(pending.target)
            if county_id is None and actor is not None:
                county_id = county_of(actor)
            seq += 1
            row = SecurityEvent(
                seq=seq, time=now, event=pending.event, result=pending.result,
                actor_id=actor.pk if actor is not None else None,
                actor_username=(actor.get_username() if actor is not None else (pending.username or ""))[:150],
                address=address, user_agent=agent, target_type=target_type, target_id=target_id,
                target_repr=target_repr, county_id=county_id, details=_plain(pending.details or {}),
                prev_hash=prev)
            row.hash = row_hash(row)
            prev = row.hash
            rows.append(row)
        SecurityEvent.objects.bulk_create(rows)
        AuditChain.objects.filter(pk=1).update(last_seq=seq, last_hash=prev)
    return rows


def _locked_head() -> AuditChain:
    head = AuditChain.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # Made by the migration; made again only if someone emptied the table by hand.
        AuditChain.objects.bulk_create(
            [AuditChain(pk=1, last_seq=0, last_hash=GENESIS, start_seq=1, start_prev_hash=GENESIS)],
            ignore_conflicts=True)
        head = AuditChain.objects.select_for_update().get(pk=1)
    return head


# Checking ---------------------------------------------------------------------------------------

@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str = ""


def verify(batch: int = 2000) -> Verification:
    """Walk the chain from its start (after the last purge) to its head. One query per ``batch`` rows."""
    head = AuditChain.objects.filter(pk=1).first()
    if head is None:
        exists = SecurityEvent.objects.exists()
        return Verification(ok=not exists, checked=0, problem="the chain's head row is missing" if exists else "")
    expected_seq, expected_prev = head.start_seq, head.start_prev_hash
    checked = 0
    older = SecurityEvent.objects.filter(seq__lt=head.start_seq).order_by("seq").first()
    if older is not None:
        return Verification(False, 0, older.seq, older.pk, "a row before the chain's start")
    last_seq = None
    while True:
        # Up to the head as read above: rows appended meanwhile are checked next time.
        rows = list(SecurityEvent.objects.filter(seq__gte=expected_seq, seq__lte=head.last_seq)
                    .order_by("seq")[:batch])
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return Verification(False, checked, row.seq, row.pk,
                                    f"rows {expected_seq}–{row.seq - 1} are missing before this row")
            if row.prev_hash != expected_prev:
                return Verification(False, checked, row.seq, row.pk, "does not follow the row before it")
            if row_hash(row) != row.hash:
                return Verification(False, checked, row.seq, row.pk, "its content was changed")
            checked += 1
            last_seq = row.seq
            expected_seq, expected_prev = row.seq + 1, row.hash
        if len(rows) < batch:
            break
    if (last_seq or head.start_seq - 1) != head.last_seq or expected_prev != head.last_hash:
        return Verification(False, checked, last_seq, None,
                            f"the chain ends at {last_seq} but its head says {head.last_seq}: rows were removed")
    # A row beyond the head as it is now (one statement: a writer's row and its head move together).
    beyond = (SecurityEvent.objects.filter(seq__gt=Subquery(AuditChain.objects.filter(pk=1).values("last_seq")))
              .order_by("seq").first())
    if beyond is not None:
        return Verification(False, checked, beyond.seq, beyond.pk, "a row after the chain's head")
    return Verification(True, checked)


# Retention ----------------------------------------------------------------------------------------

CLOCK_MARGIN = timedelta(hours=1)


def retention_days() -> int:
    return max(int(getattr(settings, "AUDIT_RETENTION_DAYS", 365)), LEGAL_MINIMUM_DAYS)


def purge(now: datetime | None = None) -> int:
    """Delete the rows older than the retention (never younger than ``LEGAL_MINIMUM_DAYS``): the
    oldest part of the chain, up to the first row that must be kept. Records what it purged and the
    chain's new start. Returns the number of rows deleted."""
    now = now or timezone.now()
    # The margin keeps a purge at the legal minimum from failing as a whole when the database's
    # clock (which its trigger reads) is a little behind ours.
    cutoff = now - timedelta(days=retention_days()) - CLOCK_MARGIN
    with transaction.atomic():
        head = _locked_head()
        keep = SecurityEvent.objects.filter(time__gte=cutoff).order_by("seq").values_list("seq", flat=True).first()
        bound = keep if keep is not None else head.last_seq + 1
        doomed = SecurityEvent.objects.filter(seq__lt=bound)
        first = doomed.order_by("seq").values("seq", "time").first()
        if first is None:
            return 0
        last = doomed.order_by("-seq").values("seq", "time", "hash").first()
        count = doomed.count()
        # The database's trigger refuses this for any row younger than the legal minimum.
        doomed.delete()
        AuditChain.objects.filter(pk=1).update(start_seq=last["seq"] + 1, start_prev_hash=last["hash"])
        # In the same transaction as the deletion: no purge without its record.
        record(Event.AUDIT_PURGE, details={
            "deleted": count, "from_seq": first["seq"], "to_seq": last["seq"],
            "oldest": first["time"], "newest": last["time"], "retention_days": retention_days(),
            "new_start_seq": last["seq"] + 1, "new_start_prev_hash": last["hash"],
        }, now=now)
    return count
