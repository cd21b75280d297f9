"""Flash messages stay bounded (issue 16): a client that posts again and again without reading the
page its redirect leads to no longer piles up the same message in its cookie, which every request
decoded and encoded again."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib import messages as django_messages
from django.contrib.messages.storage.base import Message
from django.urls import reverse

from core.messages import KEEP, bounded
from core.periods import Period
from indicators.catalog import install_catalog, install_forms
from indicators.models import DataElement
from indicators.services import filings as svc
from tests.conftest import client_for
from tests.test_filing_pages import grid_post

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_bounded_keeps_the_newest_distinct_messages_in_order():
    info, error = django_messages.INFO, django_messages.ERROR
    stack = [Message(info, "a"), Message(error, "b"), Message(info, "a"), Message(info, "c"), Message(error, "a")]
    assert [(m.level, m.message) for m in bounded(stack)] == [(error, "b"), (info, "a"), (info, "c"), (error, "a")]
    many = [Message(info, f"m{n}") for n in range(KEEP + 5)]
    assert [m.message for m in bounded(many)] == [f"m{n}" for n in range(5, KEEP + 5)]


@pytest.fixture
def setup(world):
    install_catalog()
    world.monthly = {form.code: form for form in install_forms(world.yn, first_period="2026-01")}["MONTHLY_OPS"]
    world.ids = dict(DataElement.objects.filter(county=None).values_list("code", "pk"))
    return world


@time_machine.travel(datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI), tick=False)
def test_saves_not_followed_leave_one_message_per_kind(setup):
    w = setup
    filing = svc.open_filing(w.monthly, w.centre, Period.parse("2026-10"), user=w.filer)
    client = client_for(w.filer)
    url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    for n in range(6):
        filing.refresh_from_db()
        assert client.post(url, grid_post(w, filing, OP_VISITS=8000 + n)).status_code == 302
    filing.refresh_from_db()
    assert client.post(url, grid_post(w, filing, OP_VISITS=8005)).status_code == 302  # nothing changed
    shown = [str(m) for m in client.get(url).context["messages"]]
    assert shown == ["草稿已保存：21 个数值有变动。", "草稿已保存：1 个数值有变动。", "没有数值变动。"], shown
