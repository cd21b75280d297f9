"""Forms of one's own account: the details a user keeps, a token's name, a two-factor code."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken, User

PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,28}[0-9]$")


def _label(model, name: str):
    return model._meta.get_field(name).verbose_name


class ProfileForm(forms.Form):
    """Name, phone and e-mail (a plain form: ``services.user_update`` compares before and after)."""

    full_name = forms.CharField(label=_label(User, "full_name"), max_length=50)
    phone = forms.CharField(label=_label(User, "phone"), max_length=30, required=False)
    email = forms.EmailField(label=_label(User, "email"), max_length=254, required=False)

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        if phone and not PHONE_RE.match(phone):
            raise forms.ValidationError(_("Enter a phone number of digits (a leading +, spaces and hyphens are "
                                          "allowed), e.g. 0766-7512345 or 13800138000."), code="phone")
        return phone


class TokenForm(forms.Form):
    name = forms.CharField(label=_label(ApiToken, "name"), max_length=60,
                           help_text=_("What the token is for, e.g. \"nightly export script\"."))


class CodeForm(forms.Form):
    """A code from the authenticator app (six digits), or a recovery code where one is accepted."""

    code = forms.CharField(label=_("Code from your authenticator app"), max_length=20,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                         "class": "text-center"}))

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().replace(" ", "")
