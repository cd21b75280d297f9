"""With two-factor sign-in required, the middleware's question "does this user's role need it?"
comes from the request's scope: the user's grants are read once per request, not once by the
middleware and again by the view (issue 16)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.middleware import needs_two_factor
from accounts.models import Role
from tests.conftest import client_for
from tests.factories import UserFactory, grant


def grant_reads(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return sum(1 for q in captured.captured_queries if 'FROM "accounts_grant"' in q["sql"])


def test_the_grants_are_read_once_per_request(world, settings):
    settings.PORTAL_REQUIRE_2FA = True
    assert grant_reads(client_for(world.filer), reverse("indicators:my_filings")) == 1


def test_the_roles_that_need_two_factor_still_do(world, settings):
    settings.PORTAL_REQUIRE_2FA = True
    bureau = UserFactory()
    grant(bureau, Role.BUREAU_ADMIN, world.yn)
    assert needs_two_factor(bureau) is True
    assert needs_two_factor(world.filer) is False
    response = client_for(bureau).get(reverse("indicators:my_filings"))
    assert response.status_code == 302 and response.url == reverse("security:two_factor")
