"""User management through the REST API (``/api/users/``): the same scoping and rules as the pages
(``security.access``, ``security.grants``, ``security.services``).

Who runs no accounts gets 403 (reads, and creating an account); a write to an account answers 404
for anyone who cannot see it, as for a missing one. A refused grant answers 400 ``{"detail":
<reason>}`` and writes nothing but its refusal in the security log: the view returns the answer
instead of raising, so the request's transaction keeps that event."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts.models import Grant, Role, User
from alliances import scoping
from alliances.models import Alliance, Institution, Region
from core import audit
from core.audit import Event
from core.clock import local_date
from core.http import XLSX_CONTENT_TYPE, safe_filename, xlsx_response
from security import grants as grant_rules
from security import import_register, services
from security import user_import as importer
from security.forms import email_problem, phone_problem, username_problem
from security.user_selectors import UserFilters, filtered_users, state_of, units_of, with_details

ROLE_HELP = "One of: " + ", ".join(Role.values)
SCOPE_MODELS = {"region": Region, "alliance": Alliance, "institution": Institution}


class RunsAccounts(BasePermission):
    """Users who run accounts; anyone else 403 — except for a write to one account, which answers
    404 (the account cannot be found) like a missing one."""

    message = gettext_lazy("Only the county's security administrator manages user accounts.")

    def has_permission(self, request, view) -> bool:
        if scoping.scope_of(request.user).runs_accounts:
            return True
        return bool(getattr(view, "detail", False)) and request.method not in SAFE_METHODS


# Shapes (for the schema; the views build the same dictionaries) -------------------------------------

class GrantOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField(help_text=ROLE_HELP)
    region = serializers.IntegerField(required=False)
    alliance = serializers.IntegerField(required=False)
    institution = serializers.IntegerField(required=False)
    words = serializers.CharField(help_text="The grant in words, e.g. 机构填报员 · 平台镇卫生院.")


class GrantInSerializer(serializers.Serializer):
    role = serializers.CharField(help_text=ROLE_HELP)
    region = serializers.IntegerField(required=False)
    alliance = serializers.IntegerField(required=False)
    institution = serializers.IntegerField(required=False)


class UserOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    county = serializers.IntegerField(allow_null=True, help_text="The county that keeps the account.")
    is_active = serializers.BooleanField()
    must_change_password = serializers.BooleanField()
    locked_out = serializers.BooleanField()
    two_factor = serializers.BooleanField(help_text="A confirmed authenticator app.")
    last_login = serializers.DateTimeField(allow_null=True)
    date_joined = serializers.DateTimeField()
    deactivated_at = serializers.DateTimeField(allow_null=True)
    deactivation_reason = serializers.CharField()
    grants = GrantOutSerializer(many=True)


class UserCreatedSerializer(UserOutSerializer):
    password = serializers.CharField(help_text="The one-time password, returned this once; the user must change "
                                               "it at the first sign-in.")


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    name = serializers.CharField(max_length=50)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    grants = GrantInSerializer(many=True, allow_empty=False)

    def validate_username(self, value: str) -> str:
        value = value.strip()
        problem = username_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError(_("The full name is required."))
        return value

    def validate_phone(self, value: str) -> str:
        problem = phone_problem(value.strip())
        if problem:
            raise serializers.ValidationError(problem)
        return value.strip()

    def validate_email(self, value: str) -> str:
        problem = email_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value.strip()


class UserUpdateSerializer(UserCreateSerializer):
    """Name, phone and e-mail; anything else sent is ignored (the user name, flags)."""

    username = None
    grants = None
    name = serializers.CharField(max_length=50, required=False)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)


class UserDeactivateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ImportPasswordsSerializer(serializers.Serializer):
    batch = serializers.CharField(max_length=64, help_text="The batch token the import's confirmation answered.")


def grant_out(grant: Grant) -> dict:
    return {"id": grant.pk, "role": grant.role, grant.scope_kind: grant.scope.pk,
            "words": grant_rules.grant_words(grant.role, grant.scope)}


def user_out(account: User, *, scope, locked: set[str]) -> dict:
    """An account as the API shows it (``account`` from ``with_details``: no query)."""
    state = state_of(account, scope=scope, locked=locked)
    return {"id": account.pk, "username": account.username, "name": account.full_name, "phone": account.phone,
            "email": account.email, "county": account.county_id, "is_active": account.is_active,
            "must_change_password": account.must_change_password, "locked_out": state.locked,
            "two_factor": bool(getattr(account, "has_two_factor", False)), "last_login": account.last_login,
            "date_joined": account.date_joined, "deactivated_at": account.deactivated_at,
            "deactivation_reason": account.deactivation_reason, "grants": [grant_out(g) for g in state.grants]}


def _refused(request, *, message: str, user: User | None = None, role: str = "", scope_obj=None,
             action_name: str = "add") -> Response:
    grant_rules._refused(actor=request.user, user=user or User(username=""), request=request, action=action_name,
                         role=role, scope_obj=scope_obj, reason=message)
    return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)


def _scope_object(data: dict):
    """``(kind, object or None)`` of a grant's ``{"region"|"alliance"|"institution": id}``."""
    given = [kind for kind in SCOPE_MODELS if data.get(kind) is not None]
    if len(given) != 1:
        return None, None
    kind = given[0]
    return kind, SCOPE_MODELS[kind].objects.filter(pk=data[kind]).first()


FILTER_PARAMETERS = [
    OpenApiParameter("unit", OpenApiTypes.STR, description="region:<id>, alliance:<id> or institution:<id>"),
    OpenApiParameter("role", OpenApiTypes.STR, enum=Role.values),
    OpenApiParameter("active", OpenApiTypes.BOOL),
    OpenApiParameter("locked", OpenApiTypes.BOOL, description="Locked out now"),
    OpenApiParameter("must_change", OpenApiTypes.BOOL, description="Must change the password"),
    OpenApiParameter("signin", OpenApiTypes.STR, enum=["dormant", "never"],
                     description="dormant: no sign-in for 90 days; never: never signed in"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Part of the name, user name or phone"),
]


@extend_schema_view(
    list=extend_schema(parameters=FILTER_PARAMETERS, responses=UserOutSerializer(many=True),
                       summary="The accounts the user runs"),
    retrieve=extend_schema(responses=UserOutSerializer, summary="An account"),
    create=extend_schema(request=UserCreateSerializer, responses={201: UserCreatedSerializer, 400: DetailSerializer},
                         summary="A new account with a one-time password and its grants"),
    partial_update=extend_schema(request=UserUpdateSerializer, responses=UserOutSerializer,
                                 summary="Change an account's name, phone or e-mail"),
)
class UserViewSet(viewsets.GenericViewSet):
    """User management of a county's security administrator (``/api/users/``)."""

    scoped_model = User
    queryset = User.objects.none()
    serializer_class = UserOutSerializer
    permission_classes = [IsAuthenticated, RunsAccounts]
    filter_backends: list = []

    def get_queryset(self):
        return scoping.queryset_for(self.request.user, User)

    def _account(self, *, change: bool = False) -> User:
        try:
            return scoping.get_for_user(self.request.user, User, self.kwargs.get("pk"),
                                        action=scoping.CHANGE if change else scoping.VIEW)
        except Http404:
            raise NotFound() from None
        except DjangoPermissionDenied as denied:
            raise PermissionDenied(str(denied)) from None

    def _not_self(self, account: User) -> None:
        if account.pk == self.request.user.pk:
            raise PermissionDenied(_("You cannot do this to your own account; use My account, or ask another "
                                     "administrator."))

    def _out(self, account: User, status_code=status.HTTP_200_OK, **extra) -> Response:
        account = with_details(User.objects.filter(pk=account.pk)).first()
        scope = scoping.scope_of(self.request.user)
        body = user_out(account, scope=scope, locked=services.locked_usernames([account.username]))
        return Response({**body, **extra}, status=status_code)

    def list(self, request, **kwargs):
        scope = scoping.scope_of(request.user)
        locked = services.locked_usernames()
        filters = UserFilters.from_params(request.query_params)
        units = units_of(scope) if filters.unit else None
        qs = with_details(filtered_users(request.user, filters, now=timezone.now(), units=units, locked=locked))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response([user_out(a, scope=scope, locked=locked) for a in page])

    def retrieve(self, request, pk=None, **kwargs):
        return self._out(self._account())

    def create(self, request, **kwargs):
        incoming = UserCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if User.objects.filter(username__iexact=data["username"]).exists():
            return Response({"username": [_("The user name %(name)s is taken.") % {"name": data["username"]}]},
                            status=status.HTTP_400_BAD_REQUEST)
        # Every grant is checked before anything is written.
        wanted: list[tuple[str, object]] = []
        candidate = User(username=data["username"])
        checked: list[Grant] = []
        for item in data["grants"]:
            kind, scope_obj = _scope_object(item)
            if kind is None:
                return Response({"grants": [_("Each grant names one scope: a region, an alliance or an institution.")]},
                                status=status.HTTP_400_BAD_REQUEST)
            if scope_obj is None:
                return _refused(request, user=candidate, role=item["role"], message=_(
                    "This scope does not exist or is outside the counties whose accounts you run."))
            if candidate.county_id is None and not checked:
                county_id = grant_rules.scope_county_id(scope_obj)
                candidate.county = Region.objects.filter(pk=county_id).first() if county_id else None
            try:
                grant_rules.check_grant(actor=request.user, user=candidate, role=item["role"], scope_obj=scope_obj,
                                        held=checked, changeable=True)
            except grant_rules.GrantRefused as refused:
                return _refused(request, user=candidate, role=item["role"], scope_obj=scope_obj,
                                message=refused.message)
            checked.append(Grant(role=item["role"], **{kind: scope_obj}))
            wanted.append((item["role"], scope_obj))
        try:
            with transaction.atomic():
                first_role, first_scope = wanted[0]
                made = services.user_create(actor=request.user, username=data["username"], full_name=data["name"],
                                            phone=data["phone"], email=data["email"], county=candidate.county,
                                            role=first_role, scope_obj=first_scope, request=request)
                for role, scope_obj in wanted[1:]:
                    grant_rules.grant_add(actor=request.user, user=made.user, role=role, scope_obj=scope_obj,
                                          request=request)
        except grant_rules.GrantRefused as refused:
            # Refused between the check and the write (someone changed the account meanwhile): nothing kept.
            return _refused(request, user=candidate, message=refused.message)
        except (DjangoValidationError, IntegrityError):
            return Response({"username": [_("The user name %(name)s is taken.") % {"name": data["username"]}]},
                            status=status.HTTP_400_BAD_REQUEST)
        return self._out(made.user, status.HTTP_201_CREATED, password=made.password)

    def partial_update(self, request, pk=None, **kwargs):
        account = self._account(change=True)
        self._not_self(account)
        incoming = UserUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        services.user_update(actor=request.user, user=account, full_name=data.get("name", account.full_name),
                             phone=data.get("phone", account.phone), email=data.get("email", account.email),
                             request=request)
        return self._out(account)

    @extend_schema(request=UserDeactivateSerializer, responses={200: UserOutSerializer, 400: DetailSerializer},
                   summary="Deactivate an account (never deleted)")
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None, **kwargs):
        account = self._account(change=True)
        if account.pk == request.user.pk:
            message = _("You cannot deactivate your own account.")
            _denied(request, account, message)
            return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)
        if not account.is_active:
            return self._out(account)
        incoming = UserDeactivateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.user_deactivate(actor=request.user, user=account, reason=incoming.validated_data["reason"],
                                     request=request)
        except grant_rules.GrantRefused as refused:
            _denied(request, account, refused.message)
            return Response({"detail": refused.message}, status=status.HTTP_400_BAD_REQUEST)
        return self._out(account)

    @extend_schema(request=None, responses=UserOutSerializer, summary="Reactivate an account")
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None, **kwargs):
        account = self._account(change=True)
        self._not_self(account)
        services.user_reactivate(actor=request.user, user=account, request=request)
        return self._out(account)

    @extend_schema(request=None, responses=PasswordSerializer,
                   summary="A new one-time password (returned once; the user must change it)")
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request, pk=None, **kwargs):
        account = self._account(change=True)
        self._not_self(account)
        return Response({"password": services.password_reset(actor=request.user, user=account, request=request)})

    @extend_schema(request=ImportPasswordsSerializer,
                   responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY, 410: DetailSerializer},
                   summary="The one-time passwords of the accounts an import created (.xlsx, once)")
    @action(detail=False, methods=["post"], url_path="import-passwords")
    def import_passwords(self, request, **kwargs):
        """The workbook of initial passwords of an import confirmed through ``/api/imports/``, for
        the administrator who confirmed it, once (as the page gives it after its import)."""
        incoming = ImportPasswordsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            taken = import_register.take_passwords(request.user, incoming.validated_data["batch"])
        except Http404:
            raise NotFound() from None
        except DjangoPermissionDenied as denied:
            raise PermissionDenied(str(denied)) from None
        if taken is None:
            return Response({"detail": _("These passwords have been downloaded already, or have expired. Reset the "
                                         "password of an account whose password was lost.")},
                            status=status.HTTP_410_GONE)
        created, county = taken
        today = local_date(timezone.now())
        audit.record(Event.EXPORT_PERSONAL, request=request, target=county, county_id=county.pk, details={
            "register": "users_initial_passwords", "rows": len(created), "channel": "api"})
        response = xlsx_response(importer.passwords_xlsx(created, county=county.name, on=today),
                                 safe_filename(f"{_('Initial passwords')}_{county.name}_{today:%Y%m%d}") + ".xlsx")
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
        response["Pragma"] = "no-cache"
        return response

    @extend_schema(methods=["GET"], request=None, responses=GrantOutSerializer(many=True),
                   summary="The account's grants")
    @extend_schema(methods=["POST"], request=GrantInSerializer,
                   responses={201: GrantOutSerializer, 400: DetailSerializer}, summary="Grant a role")
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def grants(self, request, pk=None, **kwargs):
        account = self._account()
        scope = scoping.scope_of(request.user)
        if request.method == "GET":
            account = with_details(User.objects.filter(pk=account.pk)).first()
            return Response([grant_out(g) for g in state_of(account, scope=scope, locked=set()).grants])
        incoming = GrantInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        role = incoming.validated_data["role"]
        kind, scope_obj = _scope_object(incoming.validated_data)
        if kind is None:
            return Response({"detail": _("Each grant names one scope: a region, an alliance or an institution.")},
                            status=status.HTTP_400_BAD_REQUEST)
        if scope_obj is None:
            return _refused(request, user=account, role=role, message=_(
                "This scope does not exist or is outside the counties whose accounts you run."))
        try:
            grant = grant_rules.grant_add(actor=request.user, user=account, role=role, scope_obj=scope_obj,
                                          request=request)
        except grant_rules.GrantRefused as refused:
            return Response({"detail": refused.message}, status=status.HTTP_400_BAD_REQUEST)
        return Response(grant_out(grant), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None, 400: DetailSerializer}, summary="Revoke a grant")
    @action(detail=True, methods=["delete"], url_path=r"grants/(?P<grant_pk>[0-9]+)", url_name="grant-revoke")
    def grant_revoke(self, request, pk=None, grant_pk=None, **kwargs):
        account = self._account()
        grant = Grant.objects.filter(user=account, pk=grant_pk).select_related(
            "user", "region", "alliance", "institution").first()
        if grant is None:
            raise NotFound()
        try:
            grant_rules.grant_remove(actor=request.user, grant=grant, request=request)
        except grant_rules.GrantRefused as refused:
            return Response({"detail": refused.message}, status=status.HTTP_400_BAD_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _denied(request, account: User, reason: str) -> None:
    audit.record(Event.GRANT_DENIED, request=request, target=account, result=audit.DENIED,
                 details={"action": "deactivate", "username": account.username, "reason": reason})


def register_routes(router) -> None:
    router.register("users", UserViewSet, basename="user")
