"""``/api/security-events/``: the security log for auditors, read-only, with the page's scoping and
filters (``since``, ``until``, ``user``, ``event``, ``address``, ``result``), newest first. Anyone who
is not an auditor or a superuser gets 403; an event outside the auditor's counties 404."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core import audit
from core.models import SecurityEvent
from security import events

ACTOR = inline_serializer("SecurityEventActor", {
    "id": serializers.IntegerField(allow_null=True), "username": serializers.CharField(),
    "name": serializers.CharField()})
TARGET = inline_serializer("SecurityEventTarget", {
    "type": serializers.CharField(), "id": serializers.CharField(), "name": serializers.CharField()})


class SecurityEventSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField(help_text="The event in words (Chinese).")
    actor = serializers.SerializerMethodField(help_text="Who acted: id (null if nobody was signed in), the user "
                                                        "name as typed or as it was then, the real name.")
    target = serializers.SerializerMethodField(help_text="What was acted on: model, id and name.")

    class Meta:
        model = SecurityEvent
        fields = ["id", "seq", "event", "label", "actor", "target", "time", "address", "result", "details"]
        read_only_fields = fields

    def get_label(self, row: SecurityEvent) -> str:
        return audit.label(row.event)

    @extend_schema_field(ACTOR)
    def get_actor(self, row: SecurityEvent) -> dict:
        names = self.context.get("names") or {}
        return {"id": row.actor_id, "username": row.actor_username, "name": names.get(row.actor_id, "")}

    @extend_schema_field(TARGET)
    def get_target(self, row: SecurityEvent) -> dict:
        return {"type": row.target_type, "id": row.target_id, "name": row.target_repr}


FILTER_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.DATE, description="From this day (Asia/Shanghai), inclusive."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="To this day (Asia/Shanghai), inclusive."),
    OpenApiParameter("user", OpenApiTypes.STR, description="A user name: the one who acted, or the account "
                                                           "acted on."),
    OpenApiParameter("event", OpenApiTypes.STR, enum=list(audit.LABELS), description="An event code."),
    OpenApiParameter("address", OpenApiTypes.STR, description="An address or its beginning."),
    OpenApiParameter("result", OpenApiTypes.STR, enum=list(SecurityEvent.Result.values)),
]


class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The security log (安全审计) of the counties the user audits."""

    queryset = SecurityEvent.objects.none()  # the model, for the schema; rows come from get_queryset
    serializer_class = SecurityEventSerializer
    permission_classes = [IsAuthenticated]
    filter_backends: list = []

    def get_queryset(self):
        return events.visible(self.request.user).order_by("-seq")

    @extend_schema(parameters=FILTER_PARAMETERS, summary="The security log",
                   responses={200: SecurityEventSerializer(many=True), 400: OpenApiTypes.OBJECT,
                              403: OpenApiTypes.OBJECT})
    def list(self, request, *args, **kwargs):
        # Here, not as a permission class: other methods answer 405 for everyone.
        events.require_auditor(request.user)
        form = events.EventFilterForm(request.query_params)
        if not form.is_valid():
            return Response(form.errors, status=400)
        page = self.paginate_queryset(events.filtered(request.user, form.filters()))
        serializer = self.get_serializer(page, many=True, context={**self.get_serializer_context(),
                                                                   "names": events.actor_names(page)})
        return self.get_paginated_response(serializer.data)

    @extend_schema(summary="One security event", responses={200: SecurityEventSerializer, 403: OpenApiTypes.OBJECT,
                                                            404: OpenApiTypes.OBJECT})
    def retrieve(self, request, *args, **kwargs):
        # Here, not as a permission class: other methods answer 405 for everyone.
        events.require_auditor(request.user)
        try:
            pk = int(kwargs.get("pk", ""))
        except (TypeError, ValueError):
            raise NotFound() from None
        row = self.get_queryset().filter(pk=pk).first()
        if row is None:
            raise NotFound()
        context = {**self.get_serializer_context(), "names": events.actor_names([row])}
        return Response(self.get_serializer(row, context=context).data)


def register_routes(router) -> None:
    router.register("security-events", SecurityEventViewSet, basename="security-event")
