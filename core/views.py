"""The health check (the home page is ``alliances.views.home``: what a user sees first is their part of
the organisation)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from core.models import Heartbeat

WORKER_ALIVE_WITHIN = timedelta(minutes=5)


@never_cache
@transaction.non_atomic_requests
def health(request):
    """For load balancers and monitoring: is the database reachable, when did a worker last beat."""
    body = {"status": "ok", "database": "ok", "worker": {"alive": False, "last_beat": None}}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        last = Heartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    except Exception:  # any database failure makes the service unhealthy
        body.update(status="error", database="error")
        return JsonResponse(body, status=503)
    if last is not None:
        body["worker"] = {
            "alive": timezone.now() - last <= WORKER_ALIVE_WITHIN,
            "last_beat": timezone.localtime(last).isoformat(),
        }
    return JsonResponse(body)
