"""``/api/tokens/``: the signed-in user's own named API tokens. List (and read one), make one (its
``key`` is in the 201 answer, once, never again), revoke one (``POST /api/tokens/<id>/revoke/``, a
second call changes nothing). Another user's token answers 404 like a missing one.

A token is made from a signed-in session only: a request authenticated by a token cannot make
another (a script's expiring sign-in token must not turn itself into one that never expires)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import ApiToken
from security import services
from security.own_tokens import token_name_taken, token_state


class ApiTokenSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField(help_text="active, revoked or expired")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "state"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "state"]

    def get_state(self, token: ApiToken) -> str:
        return token_state(token, self.context.get("now") or timezone.now())

    def validate_name(self, value: str) -> str:
        value = (value or "").strip()
        if not value:
            raise serializers.ValidationError(_("Give the token a name."))
        return value


NEW_TOKEN = inline_serializer("NewApiToken", {
    "id": serializers.IntegerField(), "name": serializers.CharField(), "prefix": serializers.CharField(),
    "created_at": serializers.DateTimeField(), "last_used_at": serializers.DateTimeField(allow_null=True),
    "expires_at": serializers.DateTimeField(allow_null=True), "revoked_at": serializers.DateTimeField(allow_null=True),
    "state": serializers.CharField(),
    "key": serializers.CharField(help_text="the token's key: shown in this answer only")})


@extend_schema_view(
    list=extend_schema(summary="My API tokens"),
    retrieve=extend_schema(summary="One of my API tokens"),
    create=extend_schema(summary="Make an API token (its key is in this answer only)",
                         responses={201: NEW_TOKEN, 400: OpenApiResponse(description="bad or taken name"),
                                    403: OpenApiResponse(description="made from a session only")}),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenSerializer
    filter_backends: list = []

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-pk")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["now"] = timezone.now()
        return context

    def create(self, request, *args, **kwargs):
        if isinstance(request.auth, ApiToken):
            return Response({"detail": _("API tokens are made from a signed-in session, not with another token.")},
                            status=status.HTTP_403_FORBIDDEN)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["name"]
        user = request.user
        with transaction.atomic():
            if token_name_taken(user, name, timezone.now()):
                return Response({"name": [_("You already have an active token named %(name)s.") % {"name": name}]},
                                status=status.HTTP_400_BAD_REQUEST)
            token, key = services.api_token_create(user=user, name=name, request=request._request, channel="api")
        data = dict(self.get_serializer(token).data)
        data["key"] = key
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiTokenSerializer}, summary="Revoke one of my API tokens")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None, **kwargs):
        token = self.get_object()
        services.api_token_revoke(user=request.user, token=token, request=request._request)
        token.refresh_from_db()
        return Response(self.get_serializer(token).data)


def register_routes(router) -> None:
    router.register("tokens", ApiTokenViewSet, basename="token")
