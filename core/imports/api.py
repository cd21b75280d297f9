"""The import API, for scripts and integration: ``POST /api/imports/`` previews a file for a
register (the same reading, mapping and checks as the pages) and answers a token;
``POST /api/imports/<token>/confirm/`` applies what was previewed, once. Same scoping and rules as
the pages: an outsider's county is the same 404 as a missing one."""

from __future__ import annotations

import json

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core import pending
from core.imports import registry
from core.imports.columns import parse_mapping
from core.issues import ImportFailed

KIND = "api-imports"


def _owner(user, county) -> dict:
    return {"user": user.pk, "county": county.pk}


class ImportPreviewView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("ImportUpload", {
            "register": serializers.CharField(help_text="institutions, ledger, history, …"),
            "county": serializers.IntegerField(),
            "file": serializers.FileField(),
            "mapping": serializers.CharField(required=False, help_text="JSON {column title: field name or null}"),
        })},
        responses=inline_serializer("ImportPreview", {
            "register": serializers.CharField(), "county": serializers.IntegerField(),
            "token": serializers.CharField(allow_null=True), "header_row": serializers.IntegerField(allow_null=True),
            "fields": serializers.ListField(child=serializers.DictField()),
            "mapping": serializers.DictField(), "rows": serializers.ListField(child=serializers.DictField()),
            "errors": serializers.ListField(child=serializers.CharField()),
        }))
    def post(self, request):
        name = str(request.data.get("register", ""))
        register = registry.get(name)
        if register is None:
            return Response({"errors": [_("Unknown register “%(name)s”; one of: %(names)s.")
                                        % {"name": name, "names": ", ".join(registry.names())}]},
                            status=status.HTTP_400_BAD_REQUEST)
        county = register.county_for(request.user, request.data.get("county"))
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"errors": [_("No file was sent (field “file”).")]}, status=status.HTTP_400_BAD_REQUEST)
        raw = request.data.get("mapping")
        try:
            given = json.loads(raw) if isinstance(raw, str) and raw.strip() else None
        except ValueError:
            return Response({"errors": [_("The mapping is not valid JSON.")]}, status=status.HTTP_400_BAD_REQUEST)
        options = {key: request.data.get(key) for key in request.data if key not in ("register", "county", "file",
                                                                                   "mapping")}
        # A register whose fields depend on what is imported into (a budget's members) says which.
        fields_for = getattr(register, "fields_for", None)
        fields = fields_for(user=request.user, county=county, options=options) if fields_for else register.fields
        mapping, errors = parse_mapping(given, fields)
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        preview = register.preview(user=request.user, county=county, upload=upload, mapping=mapping,
                                   options=options, now=timezone.now())
        token = None
        if preview.payload is not None:
            token = pending.store_detached(KIND, payload={"register": name, "data": preview.payload},
                                           owner=_owner(request.user, county), fingerprint=preview.fingerprint)
        return Response({"register": name, "county": county.pk, "token": token, **preview.body})


class ImportConfirmView(APIView):
    @extend_schema(request=None, responses=inline_serializer("ImportConfirmed", {
        "confirmed": serializers.BooleanField(), "url": serializers.CharField(allow_null=True),
    }))
    def post(self, request, token: str):
        found = pending.load_detached(KIND, token, owner_user=request.user.pk)
        if found is None:
            raise Http404(_("This preview is no longer valid: it has expired, has been imported already, or belongs "
                            "to another session. Nothing was saved. Upload the file again."))
        payload, owner, fingerprint = found
        register = registry.get(payload.get("register", ""))
        if register is None:
            raise Http404(_("Not found."))
        county = register.county_for(request.user, owner.get("county"))  # the rules of now, not of the preview
        if pending.was_claimed(KIND, token):
            return _already(token, owner)
        try:
            if not pending.claim(KIND, token):
                return _already(token, owner)
            with pending.released_on_error(KIND, token):
                applied = register.confirm(user=request.user, county=county, payload=payload["data"],
                                           fingerprint=fingerprint, now=timezone.now(), request=request)
        except registry.Stale as exc:
            pending.release(KIND, token)
            return Response({"errors": [_("The data in the portal changed since the preview. Preview the file "
                                          "again and confirm.")], **exc.body}, status=status.HTTP_409_CONFLICT)
        except ImportFailed as exc:
            pending.discard_detached(KIND, token)
            return Response({"errors": [i.text for i in exc.issues]}, status=status.HTTP_400_BAD_REQUEST)
        # The preview stays (until it ages out) beside its claim: a second confirm answers "already".
        pending.record_outcome(KIND, token, owner=owner, url=applied.url)
        return Response({"confirmed": True, "url": applied.url, **applied.body}, status=status.HTTP_201_CREATED)


def _already(token: str, owner: dict) -> Response:
    return Response({"confirmed": False, "detail": str(pending.ALREADY_CONFIRMED),
                     "url": pending.outcome(KIND, token, owner=owner)}, status=status.HTTP_200_OK)
