"""User management (用户管理) by a county's security administrator — and its bureau administrator
unless duties are separated (三员分立) —, a platform administrator for the counties below, a
superuser for all (``security.access``): the list with its filters and export, a new account, an
account's page with its grants and actions, and the import of many accounts from a workbook.

Anyone who runs no accounts gets 403 on these pages; an account outside the administrator's
counties answers 404 like a missing one (also to anyone's POST, before any other rule). Each action
is a POST, safe to click twice (a conditional update, or a check that there is still something to
do); none applies to one's own account. One-time passwords are shown once, in the POST's answer,
never stored in clear and never redirected with."""

from __future__ import annotations

import re
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Grant, User
from alliances import scoping
from alliances.exports import OFFICIAL_LANGUAGE
from alliances.models import Region
from core import audit, pending
from core.audit import Event
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.imports.pages import EXPIRED, ImportPage
from core.issues import ImportFailed, Issue
from security import grants as grant_rules
from security import services
from security import user_import as importer
from security.forms import DeactivateForm, GrantForm, ImportUploadForm, UserCreateForm, UserEditForm
from security.user_selectors import (
    DORMANT_LIST_DAYS,
    UserFilters,
    account_scope,
    any_unit,
    decorate,
    filtered_users,
    grantable_roles,
    state_of,
    unit_from_key,
    units_of,
    with_details,
)

PAGE_SIZE = 50
CREATED_KEY = "security_user_create_done"  # form nonces of accounts made in this session → account id
RESET_KEY = "security_password_reset_done"  # form nonces of password resets done in this session
CREATE_CLAIM_KIND = "user-create"  # core.pending.claim on the form's nonce: one of two clicks creates
RESET_CLAIM_KIND = "password-reset"  # … and one of two clicks resets
PASSWORDS_KEY = "security_user_import_passwords"  # import batch → its one-time passwords, encrypted
IMPORT_KIND = "users"
FILES_KIND = "user-files"  # the uploaded files themselves, for a new column mapping
KEEP_NONCES = 20
_UNSAFE = re.compile(r'[\\/:*?"<>|\r\n\t]+')


def _filename(*parts: str) -> str:
    return "_".join(_UNSAFE.sub("_", part).strip() for part in parts) + ".xlsx"


def _no_store(response):
    """A page with a one-time password: not kept by the browser or a proxy."""
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
    response["Pragma"] = "no-cache"
    return response


def _account(request, user_pk, *, change: bool = False) -> User:
    """The account, if the user sees it (404 otherwise, for everyone); with ``change``, 403 when the
    user sees it but may not change it (a city's account that also holds a grant in the county)."""
    return scoping.get_for_user(request.user, User, user_pk, action=scoping.CHANGE if change else scoping.VIEW)


def _not_self(request, account: User) -> None:
    if account.pk == request.user.pk:
        raise PermissionDenied(_("You cannot do this to your own account; use My account, or ask another "
                                 "administrator."))


def _remember(request, key: str, nonce: str, value) -> None:
    done = dict(request.session.get(key, {}))
    done[nonce] = value
    request.session[key] = dict(list(done.items())[-KEEP_NONCES:])


def _denied(request, *, account: User, action: str, reason: str) -> None:
    """A refused account action in the security log (result "denied"), like a refused grant."""
    audit.record(Event.GRANT_DENIED, request=request, target=account, result=audit.DENIED,
                 details={"action": action, "username": account.username, "reason": reason})


# The list ----------------------------------------------------------------------------------------

def _list(request):
    scope = account_scope(request.user)
    units = units_of(scope)
    filters = UserFilters.from_params(request.GET)
    locked = services.locked_usernames()
    qs = filtered_users(request.user, filters, now=request_now(request), units=units, locked=locked)
    return scope, units, filters, locked, qs


@login_required
@require_GET
def user_list(request):
    scope, units, filters, locked, qs = _list(request)
    page = Paginator(with_details(qs), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = decorate(page.object_list, scope=scope, locked=locked)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "security/users/list.html", {
        "page": page, "filters": filters, "unit_choices": units.choices(), "roles": grantable_roles(scope),
        "query": query.urlencode(), "dormant_days": DORMANT_LIST_DAYS, "filtered": bool(query),
        "may_create_county": scope.everything or bool(scope.platform_regions),
    })


@login_required
@require_GET
def user_export(request):
    """The filtered list as .xlsx (official layout), no password material; one ``export.personal``
    event."""

    scope, units, filters, locked, qs = _list(request)
    accounts = decorate(with_details(qs), scope=scope, locked=locked)
    today = local_date(request_now(request))
    county_names = "、".join(c.name for c in units.counties) if not scope.everything else _("All counties")
    content = _export_xlsx(accounts, unit=county_names, on=today)
    audit.record(Event.EXPORT_PERSONAL, request=request,
                 county_id=next(iter(scope.account_counties)) if len(scope.account_counties) == 1 else None,
                 details={"register": "users", "rows": len(accounts), "filters": request.GET.urlencode()[:500]})
    return xlsx_response(content, _filename(_("User accounts"), f"{today:%Y%m%d}"))


def _export_xlsx(accounts, *, unit: str, on) -> bytes:
    from django.utils import timezone, translation

    from core import workbook as xlsx

    with translation.override(OFFICIAL_LANGUAGE):
        def when(moment) -> str:
            return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""

        def state(account) -> str:
            words = [] if account.is_active else [_("Deactivated")]
            if account.state.locked:
                words.append(_("Locked out"))
            if account.must_change_password:
                words.append(_("Must change password"))
            if account.state.needs_two_factor:
                words.append(_("Two-factor not enrolled"))
            return "、".join(str(w) for w in words) or _("Normal")

        columns = [xlsx.Column(_("序号"), 6), xlsx.Column(_("Full name"), 12, text=True),
                   xlsx.Column(_("User name"), 18, text=True), xlsx.Column(_("Units and roles"), 40, text=True),
                   xlsx.Column(_("Mobile phone"), 15, text=True), xlsx.Column(_("E-mail address"), 24, text=True),
                   xlsx.Column(_("Last sign-in"), 17), xlsx.Column(_("Created"), 17),
                   xlsx.Column(_("State"), 22, text=True)]
        rows = [[n, a.full_name, a.username, "；".join(a.state.words), a.phone, a.email, when(a.last_login),
                 when(a.date_joined), state(a)] for n, a in enumerate(accounts, start=1)]
        table = xlsx.Table(sheet=_("User accounts"), title=_("User accounts"), columns=columns, rows=rows)
        return xlsx.workbook([table], unit=unit, on=on)


# A new account -------------------------------------------------------------------------------------

def _create_form(request, scope, units, data=None):
    return UserCreateForm(data, roles=grantable_roles(scope), units=units.choices(),
                          initial={"nonce": secrets.token_urlsafe(16)})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def user_create(request):
    scope = account_scope(request.user)
    units = units_of(scope)
    form = _create_form(request, scope, units, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        nonce = (request.POST.get("nonce") or "")[:64]
        made = request.session.get(CREATED_KEY, {}).get(nonce) if nonce else None
        if made is not None:
            # The same form sent again (a second click, a reload): the account exists; its password was
            # shown once, in the first answer.
            messages.info(request, _("This account was created already; its one-time password was shown once. "
                                     "Reset the password if it was lost."))
            return redirect("security:user_detail", user_pk=made)
        if form.is_valid():
            # Two clicks at once both miss the session's record above (it is saved when a request ends):
            # the claim on the form's nonce lets one of them create the account.
            claim = pending.form_claim_token(request, nonce)
            if claim and not pending.claim(CREATE_CLAIM_KIND, claim):
                messages.info(request, _("This account was created already; its one-time password was shown once. "
                                         "Reset the password if it was lost."))
                return redirect("security:user_list")
            with pending.released_on_error(CREATE_CLAIM_KIND, claim):
                account = _create(request, form, units)
            if account is None:
                pending.release(CREATE_CLAIM_KIND, claim)
            else:
                _remember(request, CREATED_KEY, nonce or secrets.token_urlsafe(8), account.user.pk)
                return _no_store(render(request, "security/users/created.html", {
                    "account": account.user, "password": account.password,
                    "grant": grant_rules.grant_words(account.grant.role, account.grant.scope) if account.grant else "",
                }))
        status = 400
    return render(request, "security/users/create.html", {"form": form}, status=status)


def _create(request, form, units):
    data = form.cleaned_data
    unit = unit_from_key(data["unit"], units) or any_unit(data["unit"])
    if unit is None:
        form.add_error("unit", _("Choose one of the units listed."))
        return None
    county = Region.objects.filter(pk=unit.county_id).first() if unit.county_id else None
    try:
        # No savepoint of our own around it: a refused grant's event must stay (user_create writes the
        # account in its own savepoint).
        return services.user_create(actor=request.user, username=data["username"], full_name=data["full_name"],
                                    phone=data["phone"], email=data["email"], county=county, role=data["role"],
                                    scope_obj=unit.obj, request=request)
    except grant_rules.GrantRefused as refused:
        form.add_error(None, refused.message)  # the refusal is in the security log; nothing else was written
    except ValidationError as error:
        for name, problems in error.message_dict.items():
            form.add_error(name if name in form.fields else None, problems)
    except IntegrityError:
        form.add_error("username", _("The user name %(name)s is taken.") % {"name": data["username"]})
    return None


# An account ----------------------------------------------------------------------------------------

@login_required
@require_GET
def user_detail(request, user_pk):
    scope = account_scope(request.user)
    account = _account(request, user_pk)
    return _detail(request, scope, account)


def _detail(request, scope, account: User, *, edit_form=None, grant_form=None, deactivate_form=None, status=200):
    account = with_details(User.objects.filter(pk=account.pk)).first()
    locked = services.locked_usernames([account.username])
    state = state_of(account, scope=scope, locked=locked)
    units = units_of(scope)
    is_self = account.pk == request.user.pk
    can_change = not is_self and scoping.queryset_for(request.user, User, scoping.CHANGE).filter(
        pk=account.pk).exists()
    return render(request, "security/users/detail.html", {
        "account": account, "state": state, "is_self": is_self, "can_change": can_change,
        "grants": [(g, grant_rules.grant_words(g.role, g.scope)) for g in state.grants],
        "has_devices": account.has_two_factor or StaticDevice.objects.filter(user=account).exists(),
        "edit_form": edit_form or UserEditForm(initial={"full_name": account.full_name, "phone": account.phone,
                                                        "email": account.email}),
        "grant_form": grant_form or GrantForm(roles=grantable_roles(scope), units=units.choices()),
        "deactivate_form": deactivate_form or DeactivateForm(),
        "reset_nonce": secrets.token_urlsafe(16),
    }, status=status)


@login_required
@require_POST
def user_edit(request, user_pk):
    account = _account(request, user_pk, change=True)
    scope = account_scope(request.user)
    _not_self(request, account)
    form = UserEditForm(request.POST)
    if not form.is_valid():
        return _detail(request, scope, account, edit_form=form, status=400)
    data = form.cleaned_data
    if services.user_update(actor=request.user, user=account, full_name=data["full_name"], phone=data["phone"],
                            email=data["email"], request=request):
        messages.success(request, _("The account's details are saved."))
    else:
        messages.info(request, _("Nothing changed."))
    return redirect("security:user_detail", user_pk=account.pk)


@login_required
@require_POST
def user_deactivate(request, user_pk):
    account = _account(request, user_pk, change=True)
    scope = account_scope(request.user)
    form = DeactivateForm(request.POST)
    if account.pk == request.user.pk:
        reason = _("You cannot deactivate your own account.")
        _denied(request, account=account, action="deactivate", reason=reason)
        messages.error(request, reason)
        return redirect("security:user_detail", user_pk=account.pk)
    if not account.is_active:
        messages.info(request, _("The account is deactivated already."))
        return redirect("security:user_detail", user_pk=account.pk)
    if not form.is_valid():
        return _detail(request, scope, account, deactivate_form=form, status=400)
    try:
        done = services.user_deactivate(actor=request.user, user=account, reason=form.cleaned_data["reason"],
                                        request=request)
    except grant_rules.GrantRefused as refused:
        _denied(request, account=account, action="deactivate", reason=refused.message)
        messages.error(request, refused.message)
        return redirect("security:user_detail", user_pk=account.pk)
    if done:
        messages.success(request, _("The account is deactivated: it can no longer sign in, and its API tokens stop "
                                    "working. Its name stays in every record."))
    else:
        messages.info(request, _("The account is deactivated already."))
    return redirect("security:user_detail", user_pk=account.pk)


@login_required
@require_POST
def user_reactivate(request, user_pk):
    account = _account(request, user_pk, change=True)
    account_scope(request.user)
    _not_self(request, account)
    if services.user_reactivate(actor=request.user, user=account, request=request):
        messages.success(request, _("The account is active again."))
    else:
        messages.info(request, _("The account is active already."))
    return redirect("security:user_detail", user_pk=account.pk)


@login_required
@never_cache
@require_POST
def user_reset_password(request, user_pk):
    account = _account(request, user_pk, change=True)
    account_scope(request.user)
    _not_self(request, account)
    nonce = (request.POST.get("nonce") or "")[:64]
    # The session's record catches a resend after the first answer; the claim, two clicks at once.
    claim = pending.form_claim_token(request, nonce)
    if nonce and (nonce in request.session.get(RESET_KEY, {}) or not pending.claim(RESET_CLAIM_KIND, claim)):
        messages.info(request, _("This password was reset already; the new one-time password was shown once. Reset "
                                 "it again if it was lost."))
        return redirect("security:user_detail", user_pk=account.pk)
    with pending.released_on_error(RESET_CLAIM_KIND, claim):
        password = services.password_reset(actor=request.user, user=account, request=request)
    if nonce:
        _remember(request, RESET_KEY, nonce, account.pk)
    return _no_store(render(request, "security/users/password_reset.html", {"account": account,
                                                                             "password": password}))


@login_required
@require_POST
def user_unlock(request, user_pk):
    account = _account(request, user_pk, change=True)
    account_scope(request.user)
    _not_self(request, account)
    if account.username not in services.locked_usernames([account.username]):
        messages.info(request, _("The account is not locked out."))
    else:
        services.user_unlock(actor=request.user, user=account, request=request)
        messages.success(request, _("The account is unlocked: its failed sign-ins are cleared."))
    return redirect("security:user_detail", user_pk=account.pk)


@login_required
@require_POST
def user_reset_two_factor(request, user_pk):
    account = _account(request, user_pk, change=True)
    account_scope(request.user)
    _not_self(request, account)
    if not (TOTPDevice.objects.filter(user=account).exists() or StaticDevice.objects.filter(user=account).exists()):
        messages.info(request, _("The account has no two-factor sign-in to reset."))
    else:
        services.otp_reset(actor=request.user, user=account, request=request)
        messages.success(request, _("Two-factor sign-in is reset: the user must enrol an authenticator app again."))
    return redirect("security:user_detail", user_pk=account.pk)


@login_required
@require_POST
def grant_add(request, user_pk):
    account = _account(request, user_pk)
    scope = account_scope(request.user)
    units = units_of(scope)
    form = GrantForm(request.POST, roles=grantable_roles(scope), units=units.choices())
    if not form.is_valid():
        return _detail(request, scope, account, grant_form=form, status=400)
    unit = unit_from_key(form.cleaned_data["unit"], units) or any_unit(form.cleaned_data["unit"])
    if unit is None:
        form.add_error("unit", _("Choose one of the units listed."))
        return _detail(request, scope, account, grant_form=form, status=400)
    role = form.cleaned_data["role"]
    if Grant.objects.filter(user=account, role=role, **{unit.kind: unit.obj}).exists():
        messages.info(request, _("The account already has this grant."))  # a second click
        return redirect("security:user_detail", user_pk=account.pk)
    try:
        grant_rules.grant_add(actor=request.user, user=account, role=role, scope_obj=unit.obj, request=request)
    except grant_rules.GrantRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Granted: %(grant)s.") % {"grant": grant_rules.grant_words(role, unit.obj)})
    return redirect("security:user_detail", user_pk=account.pk)


@login_required
@require_POST
def grant_revoke(request, user_pk, grant_pk):
    account = _account(request, user_pk)
    account_scope(request.user)
    grant = Grant.objects.filter(user=account, pk=grant_pk).select_related("user", "region", "alliance",
                                                                           "institution").first()
    if grant is None:  # revoked already (a second click)
        messages.info(request, _("This grant is revoked already."))
        return redirect("security:user_detail", user_pk=account.pk)
    words = grant_rules.grant_words(grant.role, grant.scope)
    try:
        grant_rules.grant_remove(actor=request.user, grant=grant, request=request)
    except grant_rules.GrantRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Revoked: %(grant)s.") % {"grant": words})
    return redirect("security:user_detail", user_pk=account.pk)


# Import ------------------------------------------------------------------------------------------

def _import_counties(scope) -> list[Region]:
    return units_of(scope).counties


class UserImportPage(ImportPage):
    """The import page of accounts (the flow is ``core.imports.pages``). Its scope is the county of
    the import, chosen on the upload form (the remapping form names it in its URL, the confirmation
    in a field); None before. Unlike the other registers: the confirmation is a URL of its own, is
    not planned again before (``user_import.confirm`` checks the file again under the county's lock
    and refuses it, 409, when the accounts changed since the preview), and answers the page of the
    one-time passwords' download itself (not kept, never redirected to)."""

    register, pending_kind, files_kind = importer.REGISTER, IMPORT_KIND, FILES_KIND
    replan_on_confirm = False

    def __init__(self, counties: list[Region]):
        self.counties = counties  # whose accounts the user imports

    def owner(self, request, scope) -> dict:
        return {"user": request.user.pk, "county": scope.pk if scope is not None else None}

    def mapping_scope(self, scope) -> int:
        return scope.pk

    def url(self, scope) -> str:
        url = reverse("security:user_import")
        return f"{url}?county={scope.pk}" if scope is not None else url

    def done_url(self, scope) -> str:
        return reverse("security:user_list")

    def upload_form(self, request=None):
        return ImportUploadForm(*((request.POST, request.FILES) if request is not None else ()),
                                counties=self.counties)

    def upload_scope(self, request, scope, form):
        return form.cleaned_data["county"]

    def read_upload(self, request, scope, form, *, saved_for):
        return importer.read_file(form.cleaned_data["file"], saved_for=saved_for)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return importer.read_data(data, name, mapping=mapping, saved_for=saved_for)

    def plan(self, request, scope, read, extra):
        return importer.check(read.table, actor=request.user, county=scope)

    def payload(self, read, plan, extra):
        # The fingerprint of the preview goes with the file: the confirmation compares it under the lock.
        return {"table": read.table.to_json(), "fingerprint": plan.fingerprint()}

    def replan(self, request, scope, payload):
        return None  # checked again by ``apply`` (``user_import.confirm``)

    def apply(self, request, scope, plan, payload):
        try:
            table = importer.Table.from_json(payload["table"])
            return table, importer.confirm(table, actor=request.user, county=scope,
                                           fingerprint=payload["fingerprint"], request=request)
        except (importer.Stale, IntegrityError, KeyError, TypeError, ValueError):
            raise ImportFailed([Issue(_(
                "The accounts changed since the preview, or this file was imported already (a second click?). "
                "Nothing was saved by this confirmation. Look at the user list, and upload the file again if "
                "accounts are missing."))]) from None

    def finish(self, request, scope, plan, payload, result):
        """The events are written and the mapping remembered by ``user_import.confirm``; the new
        accounts' one-time passwords are kept encrypted in the session for one download."""
        table, result = result
        batch = secrets.token_urlsafe(12)
        if result.created:
            sealed = dict(request.session.get(PASSWORDS_KEY, {}))
            sealed[batch] = {"user": request.user.pk, "county": scope.pk, "cipher": importer.passwords_seal(result)}
            request.session[PASSWORDS_KEY] = dict(list(sealed.items())[-5:])
        return _no_store(render(request, "security/users/import_done.html", {
            "result": result, "county": scope, "batch": batch, "filename": table.filename,
            "created": len(result.created)}))

    def expired(self, request, scope):
        return self._upload_page(request, self.upload_form(), errors=[_(EXPIRED)],
                                 status=409 if "token" in request.POST else 400)

    def unreadable(self, request, scope, read, form, mapping):
        form = form or ImportUploadForm(counties=self.counties, initial={"county": str(scope.pk)})
        # The mapping panel names the fields no column fills; the other problems are listed above it.
        shown = set(read.columns.errors) if mapping["columns"] else set()
        errors = [p.text for p in read.problems if p.message not in shown] or [_(
            "The file's columns could not all be matched to the accounts' fields; nothing was read. Map them below "
            "and preview again.")]
        return self._upload_page(request, form, errors=errors, status=400, **_panel(mapping))

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None):
        # A bound form here was refused (a valid one is read); a new one starts from the page's county.
        if not form.is_bound and scope is not None:
            form.initial["county"] = str(scope.pk)
        return self._upload_page(request, form, errors=[error] if error else None,
                                 status=400 if form.is_bound and status == 200 else status, **_panel(mapping))

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        if apply_issues:  # the confirmation found the file no longer fits: nothing saved
            return self._upload_page(request, self.upload_form(), errors=[i.text for i in apply_issues], status=409)
        return render(request, "security/users/import_preview.html", {
            "plan": plan, "token": token, "county": plan.county, "notice": notice,
            "new": plan.count(importer.NEW), "changed": plan.count(importer.CHANGED),
            "unchanged": plan.count(importer.UNCHANGED), **_panel(mapping),
        }, status=200 if plan.ok else 400)

    def _upload_page(self, request, form, *, errors=None, status=200, notice="", **mapping):
        return render(request, "security/users/import.html", {
            "form": form, "errors": errors or [], "notice": notice, "columns": importer.COLUMNS,
            "max_rows": importer.MAX_ROWS, "counties": list(form.counties.values()), **mapping,
        }, status=status)


def _panel(mapping: dict | None) -> dict:
    """The mapping panel's context under the names these templates use."""
    if not mapping:
        return {}
    return {"mapping_columns": mapping.get("columns"), **{k: v for k, v in mapping.items() if k != "columns"}}


def _import_county(counties: list[Region], pk) -> Region | None:
    return next((c for c in counties if str(c.pk) == (pk or "")), None)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def user_import(request):
    """Upload → check → preview (with the file's columns and the fields they fill, to map by hand);
    nothing is saved before the confirmation. The county is the upload form's; a remapping's is the
    URL's (the kept file is this session's, this user's and this county's)."""
    counties = _import_counties(account_scope(request.user))
    return UserImportPage(counties).handle(request, _import_county(counties, request.GET.get("county")))


@login_required
@require_GET
def user_import_template(request):
    scope = account_scope(request.user)
    counties = _import_counties(scope)
    county = next((c for c in counties if str(c.pk) == request.GET.get("county")), None)
    if county is None:
        if not counties:
            raise Http404(_("Not found."))
        county = counties[0]
    content = importer.template_xlsx(scope=scope, county=county)
    return xlsx_response(content, _filename(_("User import template"), county.name))


@login_required
@never_cache
@require_POST
def user_import_confirm(request):
    """The preview's token confirmed (or cancelled) for its county: a county the user does not run
    answers like an expired preview."""
    counties = _import_counties(account_scope(request.user))
    county = _import_county(counties, request.POST.get("county"))
    page = UserImportPage(counties)
    if county is None and "cancel" not in request.POST:
        return page.expired(request, None)
    return page.confirm(request, county)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def user_import_passwords(request):
    """The one-time passwords of an import, once, as .xlsx (POST); then they are gone."""
    account_scope(request.user)
    sealed = dict(request.session.get(PASSWORDS_KEY, {}))
    batch = request.POST.get("batch") or request.GET.get("batch") or ""
    entry = sealed.get(batch)
    if entry is not None and entry.get("user") != request.user.pk:
        entry = None
    if request.method == "GET" or entry is None:
        return render(request, "security/users/import_passwords.html", {
            "batch": batch if entry is not None else "", "available": entry is not None},
            status=200 if entry is not None else 410)
    sealed.pop(batch, None)
    request.session[PASSWORDS_KEY] = sealed
    created = importer.passwords_open(entry.get("cipher", ""))
    county = Region.objects.filter(pk=entry.get("county")).first()
    if created is None or county is None:
        return render(request, "security/users/import_passwords.html", {"batch": "", "available": False},
                      status=410)
    today = local_date(request_now(request))
    audit.record(Event.EXPORT_PERSONAL, request=request, target=county, county_id=county.pk, details={
        "register": "users_initial_passwords", "rows": len(created), "channel": "page"})
    content = importer.passwords_xlsx(created, county=county.name, on=today)
    return _no_store(xlsx_response(content, _filename(_("Initial passwords"), county.name, f"{today:%Y%m%d}")))

