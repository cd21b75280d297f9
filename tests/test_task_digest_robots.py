"""The weekly task digest for group robots: every Monday at 08:00 the county's robot gets the open
responsible tasks by light, those that became overdue in the week and the longest overdue by item
and unit; an alliance's robot the same for the alliance and its members. Only where a robot is; once
per week and scope (a doubled sweep posts nothing again); a week missed by more than a day is not
sent late; nobody gets it by e-mail or in the inbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from reports.models import Delivery, Kind, Report, Webhook
from tasks.services.status import assignments_refresh_due
from tests.test_reports import (
    at,
    rworld,  # noqa: F401 (a fixture)
    sweep_at,
)
from tests.test_webhooks import hook, robot  # noqa: F401 (robot: a fixture)

MONDAY = at("2026-12-07T08:00")


def refresh(moment):
    """The tasks' daily job (07:30): statuses and events as of ``moment``."""
    with time_machine.travel(moment, tick=False):
        assignments_refresh_due(now=moment)


def contents(server, path):
    return [body["text"]["content"] for p, _query, body in server.posts if p == path]


@pytest.fixture
def digest_world(rworld, robot):  # noqa: F811
    w = rworld
    refresh(at("2026-07-02T07:30"))  # 1.1 of alliances A and B became overdue in July
    refresh(at("2026-12-07T07:30"))
    w.county_robot = hook(w, robot, Webhook.Kind.WECOM, path="/county")
    w.alliance_robot = hook(w, robot, Webhook.Kind.WECOM, alliance=w.alliance_a, path="/a")
    return w


def test_monday_digest_reaches_the_county_and_alliance_robots_once(digest_world, robot):  # noqa: F811
    w = digest_world
    sweep_at(MONDAY)
    sweep_at(MONDAY + timedelta(seconds=1))  # doubled: nothing twice
    sweep_at(MONDAY + timedelta(minutes=20))
    digests = Report.objects.filter(kind=Kind.TASK_DIGEST)
    # The county and alliance A have a robot; alliance B and 万源市 none: no digest for them.
    assert sorted((r.county.code, r.alliance_id or 0) for r in digests) == [("445322", 0), ("445322", w.alliance_a.pk)]
    assert {(r.period, r.edition, r.state) for r in digests} == {("2026-12", 7, Report.State.SENT)}
    # Robots only: no e-mail, no inbox.
    deliveries = Delivery.objects.filter(report__kind=Kind.TASK_DIGEST)
    assert sorted(deliveries.values_list("address_key", flat=True)) == sorted(
        [f"webhook:{w.county_robot.pk}", f"webhook:{w.alliance_robot.pk}"])
    (county,) = contents(robot, "/county")
    # By hand on 2026-12-07: 1.1 of A and of B overdue since 2026-06-30 (160 days, red; overdue in
    # July, not this week); 1.2 县人民医院 due 12-31 and 2.1 县卫生健康局 (continuous) without a report
    # since June (yellow). Open 4.
    lines = county.split("\n")
    assert lines[0] == "【医共体治理门户】郁南县任务周报（2026-12-07）"
    assert lines[1] == "未完成任务4项：逾期（红灯）2项、进度滞后（黄灯）2项、即将到期（蓝灯）0项；本周新增逾期0项。"
    assert lines[2].startswith("逾期最久")
    assert lines[3].startswith("1.1 推进医共体人员统筹使用 — ") and lines[3].endswith("逾期160天")
    assert len([line for line in lines if "逾期160天" in line]) == 2
    assert lines[-1].startswith("http") and "/reports/" in lines[-1]
    (alliance,) = contents(robot, "/a")
    # Alliance A: its own 1.1 (red) and its member 县人民医院's 1.2 (yellow).
    assert alliance.split("\n")[1] == "未完成任务2项：逾期（红灯）1项、进度滞后（黄灯）1项、即将到期（蓝灯）0项；本周新增逾期0项。"
    assert w.alliance_a.name in alliance.split("\n")[0]


def test_next_monday_again_and_a_missed_monday_is_not_sent_late(digest_world, robot):  # noqa: F811
    sweep_at(MONDAY)
    sweep_at(MONDAY + timedelta(days=1, minutes=1))  # Tuesday after 08:00: last Monday's window has passed
    assert Report.objects.filter(kind=Kind.TASK_DIGEST).count() == 2
    sweep_at(MONDAY + timedelta(days=7))
    assert set(Report.objects.filter(kind=Kind.TASK_DIGEST).values_list("edition", flat=True)) == {7, 14}
    # The sweeps of a week without a robot sweep, Monday 2026-12-21 missed: Wednesday sends nothing.
    sweep_at(MONDAY + timedelta(days=16))
    assert not Report.objects.filter(kind=Kind.TASK_DIGEST, edition=21).exists()


def test_the_digest_has_its_printable_page(digest_world, robot, as_user):  # noqa: F811
    w = digest_world
    sweep_at(MONDAY)
    report = Report.objects.get(kind=Kind.TASK_DIGEST, alliance=None)
    version = report.versions.get()
    page = as_user(w.bureau).get(f"/reports/versions/{version.pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and "未完成任务4项" in text and "逾期（红灯）2项" in text
    assert as_user(w.outsider).get(f"/reports/versions/{version.pk}/").status_code == 404
