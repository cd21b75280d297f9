"""The daily digest job: it finds what became due soon, overdue or behind since the last run (the
stored next change), records each change once, and sends each affected person one digest a day,
in the portal and by e-mail; nothing when nothing is new; never twice for the same event."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from tasks.jobs import daily_digest
from tasks.models import AssignmentEvent, Notification, NotificationItem

SH = ZoneInfo("Asia/Shanghai")


def morning(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T07:30:00").replace(tzinfo=SH)


def run(day: str) -> dict:
    with time_machine.travel(morning(day), tick=False):
        return daily_digest()


@pytest.fixture
def emails(ledger_world):
    for user, address in ((ledger_world.alliance_admin, "gt1@example.org"),
                          (ledger_world.filer_hospital, "rmyy@example.org"),
                          (ledger_world.bureau, "bureau@example.org"),
                          (ledger_world.supervisor, "supervisor@example.org")):
        user.email = address
        user.save(update_fields=["email"])
    return ledger_world


def test_the_job_run_twice_sends_once(emails):
    w = emails
    first = run("2026-06-23")  # 1.1 (due 30 June) became due soon and behind
    assert first["events"] > 0 and first["notifications"] > 0
    sent = len(mail.outbox)
    second = run("2026-06-23")
    assert second == {"refreshed": 0, "events": 0, "notifications": 0, "emailed": 0, "failed": 0}
    assert len(mail.outbox) == sent
    assert Notification.objects.filter(user=w.alliance_admin).count() == 1


def test_nothing_is_sent_when_nothing_is_new(emails):
    result = run("2026-06-02")  # the day after the ledger was made: nothing changed yet
    assert result["notifications"] == 0 and mail.outbox == []
    assert not Notification.objects.exists()


def test_each_person_gets_one_digest_a_day_about_their_own_units(emails):
    w = emails
    run("2026-07-01")  # 1.1 overdue for both alliances
    alliance_digest = Notification.objects.get(user=w.alliance_admin)
    texts = [i.text for i in alliance_digest.items.all()]
    assert any("1.1" in t and w.alliance_a.display_name in t for t in texts)
    assert not any(w.alliance_b.display_name in t for t in texts)  # another alliance's matter
    # The supervisor is told of every overdue assignment of the county, in one digest.
    supervisor_digest = Notification.objects.get(user=w.supervisor)
    assert supervisor_digest.items.filter(event__kind="overdue").count() == 2
    # The hospital's filer has nothing overdue (due 31 December): no digest at all.
    assert not Notification.objects.filter(user=w.filer_hospital).exists()
    addressed = sorted(m.to[0] for m in mail.outbox)
    assert addressed == ["gt1@example.org", "supervisor@example.org"]
    assert all(m.subject.startswith("【医共体治理门户】") for m in mail.outbox)


def test_events_of_the_same_day_after_the_digest_wait_for_tomorrow(emails):
    w = emails
    run("2026-07-01")
    # A new event for the alliance office on the same day (a returned report, say).
    AssignmentEvent.objects.create(assignment=w.assignment_a, county=w.yn, kind="returned", key="report:99",
                                   detail="请补充佐证", happened_at=morning("2026-07-01"))
    run("2026-07-01")
    assert Notification.objects.filter(user=w.alliance_admin).count() == 1
    run("2026-07-02")
    digests = Notification.objects.filter(user=w.alliance_admin).order_by("day")
    assert [d.day.isoformat() for d in digests] == ["2026-07-01", "2026-07-02"]
    assert digests[1].items.get().event.key == "report:99"
    # Never twice for the same event, to anyone.
    assert NotificationItem.objects.filter(event__key="report:99").count() == 1


def test_a_failing_mail_server_keeps_the_digest_in_the_portal(emails, settings):
    settings.EMAIL_BACKEND = "tests.test_tasks_digest.BrokenBackend"
    result = run("2026-07-01")
    assert result["failed"] > 0 and result["emailed"] == 0
    notification = Notification.objects.get(user=emails.alliance_admin)
    assert notification.email_state == Notification.EmailState.FAILED
    assert "refused" in notification.email_error
    assert notification.items.exists()


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("connection refused by smtp.example.org")
