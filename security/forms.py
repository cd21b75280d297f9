"""Forms of user management and new counties. Who may do what is not decided here: the views ask
``security.access`` and the services (``security.grants`` for every grant)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from alliances.models import Region
from security import services

_MOBILE = re.compile(r"^(?:\+?86-?)?1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^(?:0\d{2,3}-?|\(0\d{2,3}\))\d{7,8}(?:-\d{1,6})?$")


def phone_problem(text: str) -> str | None:
    """Why ``text`` is not a phone number (a mainland mobile number, or a landline with its area
    code), or None. Spaces are allowed."""
    compact = re.sub(r"\s+", "", text or "")
    if not compact:
        return None
    if len(compact) > User._meta.get_field("phone").max_length or not (
            _MOBILE.match(compact) or _LANDLINE.match(compact)):
        return _("“%(value)s” is not a phone number: a mobile number has 11 digits (13800138000), a landline "
                 "number begins with its area code (0766-7512345).") % {"value": text}
    return None


def email_problem(text: str) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        validate_email(text)
    except ValidationError:
        return _("“%(value)s” is not an e-mail address.") % {"value": text}
    if len(text) > User._meta.get_field("email").max_length:
        return _("“%(value)s” is not an e-mail address.") % {"value": text}
    return None


def username_problem(text: str) -> str | None:
    """Why ``text`` cannot be a user name by its form (taken names are checked apart), or None."""
    field = User._meta.get_field("username")
    if not text:
        return _("The user name is required.")
    try:
        field.run_validators(text)
    except ValidationError as error:
        return " ".join(error.messages)
    return None


class PersonFields(forms.Form):
    """Name, phone and e-mail of an account."""

    full_name = forms.CharField(label=gettext_lazy("Full name"), max_length=50)
    phone = forms.CharField(label=gettext_lazy("Mobile phone"), max_length=40, required=False,
                            help_text=gettext_lazy("A mobile number, or a landline with its area code."))
    email = forms.CharField(label=gettext_lazy("E-mail address"), max_length=254, required=False)

    def clean_full_name(self) -> str:
        value = " ".join(self.cleaned_data["full_name"].split())
        if not value:
            raise ValidationError(_("The full name is required."))
        return value

    def clean_phone(self) -> str:
        value = self.cleaned_data["phone"].strip()
        problem = phone_problem(value)
        if problem:
            raise ValidationError(problem)
        return value

    def clean_email(self) -> str:
        value = self.cleaned_data["email"].strip()
        problem = email_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


UNIT_KEY = re.compile(r"^(region|alliance|institution):[0-9]{1,18}$")


class RoleField(forms.ChoiceField):
    """Offers the roles the administrator may grant; takes any role, so that a forged request for
    another reaches the grant rules, which refuse it and log the attempt."""

    def valid_value(self, value) -> bool:
        return value in Role.values


class UnitField(forms.ChoiceField):
    """Offers the units of the administrator's counties; takes any ``kind:id``, for the same reason."""

    def valid_value(self, value) -> bool:
        return bool(UNIT_KEY.match(str(value)))


class GrantFields(forms.Form):
    """A role on a unit (the units of the administrator's counties, grouped by county)."""

    role = RoleField(label=gettext_lazy("Role"))
    unit = UnitField(label=gettext_lazy("Unit"),
                     help_text=gettext_lazy("The county, one of its alliances or one of its institutions."))

    def set_choices(self, *, roles, units) -> None:
        self.fields["role"].choices = [("", "---------"), *roles]
        self.fields["unit"].choices = [("", "---------"), *units]


class UserCreateForm(PersonFields, GrantFields):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150,
                               help_text=gettext_lazy("Letters, digits and @ . + - _ only; used to sign in."))
    # A random value of the form, so that a second click on the same form shows the first result's
    # account instead of "the user name is taken".
    nonce = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    field_order = ["full_name", "username", "phone", "email", "role", "unit"]

    def __init__(self, *args, roles, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_choices(roles=roles, units=units)

    def clean_username(self) -> str:
        value = self.cleaned_data["username"].strip()
        problem = username_problem(value)
        if problem is None and User.objects.filter(username__iexact=value).exists():
            problem = _("The user name %(name)s is taken.") % {"name": value}
        if problem:
            raise ValidationError(problem)
        return value


class UserEditForm(PersonFields):
    pass


class GrantForm(GrantFields):
    def __init__(self, *args, roles, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_choices(roles=roles, units=units)


class DeactivateForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200,
                             help_text=gettext_lazy("E.g. left the institution, moved to another post."))

    def clean_reason(self) -> str:
        value = " ".join(self.cleaned_data["reason"].split())
        if not value:
            raise ValidationError(_("Give the reason for the deactivation."))
        return value


# New counties -------------------------------------------------------------------------------------

PEOPLE = (("security", gettext_lazy("Security administrator")), ("bureau", gettext_lazy("Bureau administrator")))


class CountyCreateForm(forms.Form):
    city = forms.ChoiceField(label=gettext_lazy("City"))
    code = forms.CharField(label=gettext_lazy("County code (GB/T 2260)"), max_length=6, min_length=1,
                           help_text=gettext_lazy("Six digits; the first four are the city's."))
    name = forms.CharField(label=gettext_lazy("County name"), max_length=100)

    def __init__(self, *args, cities: list[Region], **kwargs):
        super().__init__(*args, **kwargs)
        self.cities = {str(c.pk): c for c in cities}
        self.fields["city"].choices = [("", "---------")] + [
            (str(c.pk), f"{c.parent.name} {c.name}" if c.parent_id else c.name) for c in cities]
        for prefix, role in PEOPLE:
            self.fields[f"{prefix}_username"] = forms.CharField(
                label=_("%(role)s: user name") % {"role": role}, max_length=150)
            self.fields[f"{prefix}_full_name"] = forms.CharField(
                label=_("%(role)s: full name") % {"role": role}, max_length=50)
            self.fields[f"{prefix}_phone"] = forms.CharField(
                label=_("%(role)s: mobile phone") % {"role": role}, max_length=40, required=False)
            self.fields[f"{prefix}_email"] = forms.CharField(
                label=_("%(role)s: e-mail address") % {"role": role}, max_length=254, required=False)

    def clean_city(self) -> Region:
        city = self.cities.get(self.cleaned_data["city"])
        if city is None:
            raise ValidationError(_("Choose one of the cities listed."))
        return city

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].strip()
        if not value:
            raise ValidationError(_("The county's name is required."))
        if Region.objects.filter(level=Region.Level.COUNTY, name=value,
                                 parent_id=getattr(self.cities.get(self.data.get("city")), "pk", None)).exists():
            raise ValidationError(_("The city already has a county of this name."))
        return value

    def clean(self):
        data = super().clean()
        city, code = data.get("city"), (data.get("code") or "").strip()
        if isinstance(city, Region) and "code" in data:
            problem = services.county_code_problem(code, city)
            if problem:
                self.add_error("code", problem)
            else:
                data["code"] = code
        names = {}
        for prefix, _role in PEOPLE:
            username = (data.get(f"{prefix}_username") or "").strip()
            if f"{prefix}_username" in data:
                problem = username_problem(username)
                if problem is None and User.objects.filter(username__iexact=username).exists():
                    problem = _("The user name %(name)s is taken.") % {"name": username}
                if problem is None and username.lower() in names:
                    problem = _("The two administrators need two different user names.")
                if problem:
                    self.add_error(f"{prefix}_username", problem)
                names[username.lower()] = prefix
                data[f"{prefix}_username"] = username
            if f"{prefix}_full_name" in data:
                data[f"{prefix}_full_name"] = " ".join(data[f"{prefix}_full_name"].split())
                if not data[f"{prefix}_full_name"]:
                    self.add_error(f"{prefix}_full_name", _("The full name is required."))
            for key, check in (("phone", phone_problem), ("email", email_problem)):
                value = (data.get(f"{prefix}_{key}") or "").strip()
                problem = check(value)
                if problem:
                    self.add_error(f"{prefix}_{key}", problem)
                data[f"{prefix}_{key}"] = value
        return data

    def person(self, prefix: str) -> dict:
        data = self.cleaned_data
        return {"username": data[f"{prefix}_username"], "full_name": data[f"{prefix}_full_name"],
                "phone": data[f"{prefix}_phone"], "email": data[f"{prefix}_email"]}


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Workbook (.xlsx) or .csv file"))
    county = forms.ChoiceField(label=gettext_lazy("County"))

    def __init__(self, *args, counties: list[Region], **kwargs):
        super().__init__(*args, **kwargs)
        self.counties = {str(c.pk): c for c in counties}
        self.fields["county"].choices = [(str(c.pk), c.name) for c in counties]
        if len(counties) == 1:
            self.fields["county"].initial = str(counties[0].pk)
            self.fields["county"].widget = forms.HiddenInput()
            self.fields["county"].required = False

    def clean_county(self) -> Region:
        value = self.cleaned_data["county"]
        if not value and len(self.counties) == 1:
            value = next(iter(self.counties))
        county = self.counties.get(value)
        if county is None:
            raise ValidationError(_("Choose one of the counties listed."))
        return county
