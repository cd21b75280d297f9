"""Forms of the organisation pages.

Every choice of an alliance, an institution or a county is limited to what the
signed-in user may change (``alliances.scoping``), so a foreign id posted in a
form is refused with a form error and never saved. Membership writes go
through ``alliances.services``; the views show their ``ValidationError`` in
the form.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, Region

K = Institution.Kind
MembershipRole = AllianceMembership.Role

# Dates outside this window are refused: they are typing mistakes, and the services
# compute the day before / after a date, which must stay a valid date.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs={"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat(), **(attrs or {})},
                         format="%Y-%m-%d")


class PortalDateField(forms.DateField):
    widget = DateInput

    def validate(self, value):
        super().validate(value)
        if value and not (DATE_MIN <= value <= DATE_MAX):
            raise ValidationError(
                _("Enter a date between %(min)s and %(max)s."),
                code="date_range",
                params={"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()},
            )


def _institution_label(institution: Institution) -> str:
    return institution.name if institution.is_active else f"{institution.name} ({_('inactive')})"


class InstitutionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _institution_label(obj)


# Alliances ------------------------------------------------------------------------------

class AllianceForm(forms.ModelForm):
    """Create or edit an alliance. The county is chosen on creation only, among the counties the
    user may change; a lead institution can be appointed at once."""

    lead = InstitutionChoiceField(
        label=_("Lead institution"), queryset=Institution.objects.none(), required=False,
        help_text=_("Optional: the county general, TCM or maternal and child health hospital that leads it."),
    )
    lead_from = PortalDateField(label=_("Lead from"), required=False,
                                help_text=_("First day the lead institution leads the alliance."))

    class Meta:
        model = Alliance
        fields = ["county", "name", "short_name", "established_on", "note"]
        widgets = {"established_on": DateInput(), "note": forms.Textarea(attrs={"rows": 3})}
        field_classes = {"established_on": PortalDateField}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk:
            # The county of an existing alliance is fixed; so is its lead (changed through memberships).
            for name in ("county", "lead", "lead_from"):
                del self.fields[name]
        else:
            counties = scoping.counties_for(user, scoping.CHANGE).order_by("code")
            self.fields["county"].queryset = counties
            self.fields["county"].empty_label = None if counties.count() == 1 else "---------"
            self.fields["lead"].queryset = (
                scoping.queryset_for(user, Institution, scoping.CHANGE)
                .filter(kind__in=Institution.LEAD_KINDS, is_active=True, county__in=counties)
                .order_by("county_id", "name")
            )

    def clean(self):
        cleaned = super().clean()
        county = cleaned.get("county") if "county" in self.fields else self.instance.county
        name = cleaned.get("name")
        if county and name:
            # Checked here rather than by the model's unique constraint: the error belongs next to the
            # name, and the edit form has no county field, so the constraint would not be checked at all.
            if Alliance.objects.filter(county=county, name=name).exclude(pk=self.instance.pk).exists():
                self.add_error("name", _("An alliance of this name already exists in the county."))
        if "lead" in self.fields:
            lead, lead_from = cleaned.get("lead"), cleaned.get("lead_from")
            if lead and not lead_from and "lead_from" not in self.errors:
                self.add_error("lead_from", _("Give the first day the lead institution leads the alliance."))
            if lead_from and not lead and "lead" not in self.errors:
                self.add_error("lead", _("Choose the lead institution, or leave the date empty."))
            if lead and county and lead.county_id != county.pk:
                self.add_error("lead", _("The lead institution must be in the alliance's county."))
        return cleaned


class AddMemberForm(forms.Form):
    institution = InstitutionChoiceField(label=_("Institution"), queryset=Institution.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=MembershipRole.choices, initial=MembershipRole.MEMBER)
    valid_from = PortalDateField(label=_("Member from"), help_text=_("First day of the membership."))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, user, alliance: Alliance, **kwargs):
        super().__init__(*args, **kwargs)
        self.alliance = alliance
        self.fields["institution"].queryset = (
            scoping.queryset_for(user, Institution, scoping.CHANGE)
            .filter(county_id=alliance.county_id, is_active=True)
            .exclude(kind=K.VILLAGE_CLINIC)
            .order_by("name")
        )
        self.fields["valid_from"].initial = timezone.localdate()


class DeactivateForm(forms.Form):
    last_day = PortalDateField(label=_("Last active day"),
                               help_text=_("Memberships still open on this day end on it."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["last_day"].initial = timezone.localdate()


class MembersOnForm(forms.Form):
    on = PortalDateField(label=_("Members on"), required=False)


class AllianceFilterForm(forms.Form):
    county = forms.ModelChoiceField(label=_("County"), queryset=Region.objects.none(), required=False,
                                    empty_label=_("All counties"))
    active = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("1", _("Active")), ("0", _("Inactive")), ("all", _("All"))])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = (
            scoping.queryset_for(user, Region).filter(level=Region.Level.COUNTY).order_by("code")
        )


# Institutions -----------------------------------------------------------------------------

class InstitutionForm(forms.ModelForm):
    parent = InstitutionChoiceField(
        label=_("Managing institution"), queryset=Institution.objects.none(), required=False,
        help_text=_("A village clinic belongs to its township health centre."),
    )

    class Meta:
        model = Institution
        fields = ["county", "name", "short_name", "kind", "parent", "credit_code", "beds", "service_population"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        changeable = scoping.queryset_for(user, Institution, scoping.CHANGE)
        parents = changeable.filter(kind__in=Institution.PARENT_KINDS, is_active=True)
        if self.instance.pk:
            del self.fields["county"]  # an institution does not move to another county
            parents = parents.filter(county_id=self.instance.county_id).exclude(pk=self.instance.pk)
            if self.instance.parent_id:
                # Keep the current managing institution selectable even if the user could not pick it now.
                parents = parents | Institution.objects.filter(pk=self.instance.parent_id)
        else:
            counties = scoping.counties_for(user, scoping.CHANGE).order_by("code")
            self.fields["county"].queryset = counties
            self.fields["county"].empty_label = None if counties.count() == 1 else "---------"
            parents = parents.filter(county__in=counties)
        self.fields["parent"].queryset = parents.order_by("county_id", "name")

    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        name = cleaned.get("name")
        county_id = instance.county_id if instance.pk else getattr(cleaned.get("county"), "pk", None)
        # As for alliances: the duplicate name is shown next to the name, on creation and on edit.
        # (A change of kind that breaks memberships or clinics is refused by Institution.clean.)
        if county_id and name and Institution.objects.filter(county_id=county_id, name=name).exclude(
            pk=instance.pk
        ).exists():
            self.add_error("name", _("An institution of this name already exists in the county."))
        return cleaned


LEAVE = "leave"


class MoveForm(forms.Form):
    """Move an institution to another alliance (or out of any) from a date."""

    target = forms.ChoiceField(label=_("Move to"))
    on = PortalDateField(label=_("Effective from"),
                         help_text=_("First day in the new alliance; the current membership ends the day before."))
    role = forms.ChoiceField(label=_("Role in the new alliance"), choices=MembershipRole.choices,
                             initial=MembershipRole.MEMBER)
    note = forms.CharField(label=_("Note"), max_length=200, required=False,
                           help_text=_("e.g. the document that decided the move."))

    def __init__(self, *args, user, institution: Institution, **kwargs):
        super().__init__(*args, **kwargs)
        self.institution = institution
        self.alliances = {
            str(a.pk): a
            for a in scoping.queryset_for(user, Alliance, scoping.CHANGE)
            .filter(county_id=institution.county_id, is_active=True)
            .order_by("name")
        }
        self.fields["target"].choices = (
            [("", "---------"), (LEAVE, _("Leave the alliance (belong to none)"))]
            + [(pk, a.name) for pk, a in self.alliances.items()]
        )
        self.fields["on"].initial = timezone.localdate()

    def clean(self):
        cleaned = super().clean()
        target = cleaned.get("target")
        cleaned["to_alliance"] = self.alliances.get(target) if target and target != LEAVE else None
        return cleaned


class InstitutionFilterForm(forms.Form):
    q = forms.CharField(label=_("Name"), required=False, max_length=100)
    county = forms.ModelChoiceField(label=_("County"), queryset=Region.objects.none(), required=False,
                                    empty_label=_("All counties"))
    alliance = forms.ModelChoiceField(label=_("Alliance today"), queryset=Alliance.objects.none(), required=False,
                                      empty_label=_("All alliances"))
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All kinds")), *K.choices])
    active = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("1", _("Active")), ("0", _("Inactive")), ("all", _("All"))])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = (
            scoping.queryset_for(user, Region).filter(level=Region.Level.COUNTY).order_by("code")
        )
        self.fields["alliance"].queryset = scoping.queryset_for(user, Alliance).order_by("county_id", "name")


# Joint offices ----------------------------------------------------------------------------

class JointOfficeForm(forms.Form):
    first = InstitutionChoiceField(label=_("Institution"), queryset=Institution.objects.none())
    second = InstitutionChoiceField(label=_("Joint with"), queryset=Institution.objects.none(),
                                    help_text=_("The institution that shares one staff with the first "
                                                "(两个牌子一套人马)."))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        counties = scoping.counties_for(user, scoping.CHANGE)
        institutions = (
            scoping.queryset_for(user, Institution, scoping.CHANGE)
            .filter(county__in=counties)
            .exclude(kind=K.VILLAGE_CLINIC)
            .order_by("county_id", "name")
        )
        self.fields["first"].queryset = institutions
        self.fields["second"].queryset = institutions

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("first"), cleaned.get("second")
        if first and second:
            if first.pk == second.pk:
                self.add_error("second", _("Link two different institutions."))
            elif first.county_id != second.county_id:
                self.add_error("second", _("Both institutions of a joint office must be in the same county."))
        return cleaned
