"""Issue 16 item 7: identical concurrent ``POST /api/filings/bulk/`` payloads are idempotent.

Eight sessions of one filer post the same payload (no ``version``) at the same moment, through real
commits on separate database connections: exactly one writes (one audit row per changed value, one
event), the others answer ``changed: 0``, and none answers 409. A differing payload based on a stale
explicit ``version`` is still a conflict.

The race needs real concurrent transactions and row locks (``SELECT … FOR UPDATE``). SQLite has
neither (``transaction_mode="IMMEDIATE"`` serialises every request on the database lock, so the race
cannot happen there and the test could not fail): it runs on PostgreSQL only."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import time_machine
from django.db import connection

from indicators.catalog import install_catalog, install_forms
from indicators.models import DataValue, Filing, FilingEvent, ValueAudit
from tests.test_indicators_api import TODAY, api, centre_values, payload, post

SESSIONS = 8

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'",
                       reason="row locks and concurrent transactions need PostgreSQL (see the module's doc)"),
]


@pytest.fixture
def setup(world):
    install_catalog()
    world.forms = {form.code: form for form in install_forms(world.yn)}
    return world


@pytest.fixture
def today():
    # Ticking: the threads' requests and the main thread share the moved clock.
    with time_machine.travel(TODAY, tick=True):
        yield


def post_at_once(clients, data) -> list:
    """Each client posts ``data`` from its own thread (its own connection), all released at once."""
    barrier = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)
    errors: list = []

    def run(index, client):
        try:
            barrier.wait(timeout=30)
            responses[index] = post(client, data)
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


def summary(responses) -> Counter:
    return Counter((r.status_code, r.json().get("changed")) for r in responses)


def test_identical_concurrent_bulk_posts_write_once_and_never_conflict(setup, today):
    w = setup
    clients = [api(w.filer) for _ in range(SESSIONS)]  # eight sessions of one filer

    # The filing does not exist yet: one creates it with its 21 values, the others change nothing.
    first = post_at_once(clients, payload(w))
    assert all(r.status_code in (200, 201) for r in first), [(r.status_code, r.content) for r in first]
    assert sorted(r.json()["changed"] for r in first) == [0] * (SESSIONS - 1) + [21]
    assert Filing.objects.count() == 1
    assert ValueAudit.objects.count() == 21 and FilingEvent.objects.count() == 1

    # The filing exists (version 2): the same new figures sent eight times at once.
    changed = payload(w, values=centre_values(OP_VISITS=8100, GPS=7))
    responses = post_at_once(clients, changed)
    assert summary(responses) == Counter({(200, 2): 1, (200, 0): SESSIONS - 1}), [
        (r.status_code, r.content) for r in responses]
    filing = Filing.objects.get()
    assert filing.version == 3
    assert {r.json()["filing"]["version"] for r in responses} == {3}
    # One audit row for each of the two changes, one event for the one write.
    updates = ValueAudit.objects.filter(created=False)
    assert sorted((a.element.code, a.old_value, a.new_value) for a in updates) == [
        ("GPS", 6, 7), ("OP_VISITS", 8000, 8100)]
    assert FilingEvent.objects.count() == 2
    assert DataValue.objects.get(element__code="OP_VISITS").value == 8100


def test_a_differing_payload_with_a_stale_version_is_still_a_conflict(setup, today):
    w = setup
    client = api(w.filer)
    assert post(client, payload(w)).status_code == 201  # version 2
    assert post(api(w.alliance_admin), payload(w, values={"OP_VISITS": 9000}, version=2)).status_code == 200
    stale = post_at_once([api(w.filer) for _ in range(2)], payload(w, values={"OP_VISITS": 7000}, version=2))
    assert [r.status_code for r in stale] == [409, 409]
    assert DataValue.objects.get(element__code="OP_VISITS").value == 9000
    assert ValueAudit.objects.filter(new_value=7000).count() == 0
