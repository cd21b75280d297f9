"""The security side's API: ``/api/me/``, and (registered from their modules) users and grants,
own tokens, security events."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Grant


def grant_json(grant: Grant) -> dict:
    """``{"role": …, "region"|"alliance"|"institution": id}``."""
    return {"role": grant.role, grant.scope_kind: grant.scope.pk if grant.scope else None}


class MeView(APIView):
    @extend_schema(responses=inline_serializer("Me", {
        "username": serializers.CharField(), "name": serializers.CharField(),
        "grants": serializers.ListField(child=serializers.DictField())}), summary="The signed-in user")
    def get(self, request):
        user = request.user
        grants = Grant.objects.filter(user=user).order_by("pk")
        return Response({"username": user.username, "name": user.display_name,
                         "grants": [{"role": g.role, g.scope_kind: g.region_id or g.alliance_id or g.institution_id}
                                    for g in grants]})


def register_routes(router) -> None:
    """Viewsets of the security side (added by their modules as they are written)."""
    for module_name in ("security.api_users", "security.api_events", "security.api_tokens"):
        try:
            module = __import__(module_name, fromlist=["register_routes"])
        except ModuleNotFoundError:
            continue
        module.register_routes(router)
