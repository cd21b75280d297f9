"""Forms of the definitions kept by the county bureau: data elements, report forms with their rows,
indicators and validation rules.

A county works with the shared catalogue plus its own rows: codes are unique within that union,
formulas may name any of its data element codes (``indicators.formula.check``, never ``eval``),
and every choice of an element or an institution is limited to the county, so a foreign id posted
in a form is refused with a form error.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from alliances.models import Institution, Region
from core.periods import Period, PeriodError
from indicators.formula import FormulaError, check
from indicators.models import DataElement, FormElement, Indicator, ReportForm, ValidationRule

K = Institution.Kind
CODE_VALIDATOR = RegexValidator(r"^[A-Za-z][A-Za-z0-9_]*$",
                                message=_("Use letters, digits and underscores only, starting with a letter."))
# Indicator levels (see indicators.engine.LEVELS).
LEVEL_CHOICES = [("county", _("County")), ("alliance", _("Alliance")), ("institution", _("Institution"))]
FACTOR_CHOICES = [(Decimal("1"), "1"), (Decimal("100"), _("100 (%)")), (Decimal("1000"), _("1000 (‰, per 1,000)")),
                  (Decimal("10000"), _("10000 (per 10,000)"))]
UNIT_SUGGESTIONS = ["人次", "元", "床日", "人", "台次", "项", "个", "分", "天"]


def same_county(model, county: Region | None) -> QuerySet:
    """Rows of ``model`` a county works with: the shared catalogue and its own."""
    condition = Q(county__isnull=True)
    if county is not None:
        condition |= Q(county=county)
    return model.objects.filter(condition)


def county_codes(county: Region | None) -> set[str]:
    """The data element codes formulas of ``county`` may name (shared catalogue and the county's own)."""
    return set(same_county(DataElement, county).values_list("code", flat=True))


class KindsField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}))
        kwargs.setdefault("choices", K.choices)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class _CodeMixin:
    """The code: letters, digits, underscores, upper-cased; unique among the shared catalogue and the
    county's own rows; fixed once created (formulas, filed values and templates refer to it)."""

    code_model = None
    code_message = _("The code %(code)s is already used in the county or the shared catalogue.")

    def _setup_code(self):
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("The code is fixed once created: formulas and filed figures refer to it.")
        else:
            self.fields["code"].validators.append(CODE_VALIDATOR)

    def clean_code(self):
        if self.instance.pk:
            return self.instance.code
        code = (self.cleaned_data.get("code") or "").strip().upper()
        if code and same_county(self.code_model, self.county).filter(code__iexact=code).exists():
            raise ValidationError(self.code_message, code="duplicate_code", params={"code": f"“{code}”"})
        return code


# Data elements ----------------------------------------------------------------------------

class DataElementForm(_CodeMixin, forms.ModelForm):
    code_model = DataElement

    class Meta:
        model = DataElement
        fields = ["code", "name", "unit", "value_type", "aggregation", "description", "min_value", "max_value",
                  "outlier", "outlier_threshold", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "unit": forms.TextInput(attrs={"list": "unit-suggestions"})}

    def __init__(self, *args, county: Region | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.county = county
        self._setup_code()

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_value"), cleaned.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("The maximum must not be below the minimum (%(min)s).") % {"min": low})
        outlier, threshold = cleaned.get("outlier"), cleaned.get("outlier_threshold")
        if outlier and outlier != DataElement.Outlier.NONE and threshold is not None and threshold <= 0:
            self.add_error("outlier_threshold", _("The threshold of an outlier check must be above zero."))
        return cleaned

    def save(self, commit=True):
        if not self.instance.pk:
            self.instance.county = self.county
        return super().save(commit)


class ElementFilterForm(forms.Form):
    ORIGIN_CHOICES = [("", _("Shared and own")), ("shared", _("Shared catalogue")), ("own", _("The county's own"))]

    q = forms.CharField(label=_("Code or name"), required=False, max_length=100)
    value_type = forms.ChoiceField(label=_("Value type"), required=False,
                                   choices=[("", _("All types")), *DataElement.ValueType.choices])
    aggregation = forms.ChoiceField(label=_("Aggregation"), required=False,
                                    choices=[("", _("All")), *DataElement.Aggregation.choices])
    origin = forms.ChoiceField(label=_("Source"), required=False, choices=ORIGIN_CHOICES)


# Report forms -------------------------------------------------------------------------------

class InstitutionsField(forms.ModelMultipleChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}))
        super().__init__(**kwargs)

    def label_from_instance(self, obj):
        return obj.name if obj.is_active else f"{obj.name} ({_('inactive')})"


class ReportFormForm(_CodeMixin, forms.ModelForm):
    code_model = ReportForm
    code_message = _("The code %(code)s is already used by another form of the county.")

    institution_kinds = KindsField(label=_("Filed by institutions of these kinds"))
    institutions = InstitutionsField(label=_("Or by these institutions"), queryset=Institution.objects.none(),
                                     required=False,
                                     help_text=_("Named one by one, in addition to the kinds."))

    class Meta:
        model = ReportForm
        fields = ["code", "name", "period_kind", "filer_level", "institution_kinds", "institutions", "due_day",
                  "lock_day", "first_period", "description", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "due_day": forms.NumberInput(attrs={"min": 1, "max": 28}),
                   "lock_day": forms.NumberInput(attrs={"min": 1, "max": 28})}
        # As 上线准备 and 历史数据导入 name it: the periods before it are the history.
        labels = {"first_period": _("First live period")}
        help_texts = {"first_period": _("The first period filed in the portal, e.g. 2026-01 or 2026Q1; the periods "
                                        "before it are loaded as history. Empty: no limit.")}

    def __init__(self, *args, county: Region, **kwargs):
        super().__init__(*args, **kwargs)
        self.county = county
        self._setup_code()
        institutions = Institution.objects.filter(county=county).filter(
            Q(is_active=True) | Q(pk__in=self.instance.institutions.all() if self.instance.pk else []))
        self.fields["institutions"].queryset = institutions.order_by("kind", "name")

    def clean_code(self):
        if self.instance.pk:
            return self.instance.code
        code = (self.cleaned_data.get("code") or "").strip().upper()
        if code and ReportForm.objects.filter(county=self.county, code__iexact=code).exists():
            raise ValidationError(self.code_message, code="duplicate_code", params={"code": f"“{code}”"})
        return code

    def clean(self):
        cleaned = super().clean()
        due, lock = cleaned.get("due_day"), cleaned.get("lock_day")
        if due is not None and lock is not None and lock < due:
            self.add_error("lock_day", _("The lock day (%(lock)s) must not be before the due day (%(due)s).")
                           % {"lock": lock, "due": due})
        kind = cleaned.get("period_kind")
        if self.instance.pk and kind and kind != self.instance.period_kind and self.instance.filings.exists():
            self.add_error("period_kind", _("The form already has filings; its period type cannot change."))
        first = (cleaned.get("first_period") or "").strip()
        if first and kind:
            try:
                period = Period.parse(first)
            except PeriodError as exc:
                self.add_error("first_period", str(exc))
            else:
                if period.kind.value != kind:
                    self.add_error("first_period", _("%(period)s is not a period of the form's type (%(kind)s).")
                                   % {"period": first, "kind": dict(self.fields["period_kind"].choices)[kind]})
                else:
                    cleaned["first_period"] = str(period)
        if cleaned.get("filer_level") == ReportForm.FilerLevel.COUNTY:
            # The bureau files county-level forms itself: no institution files them.
            cleaned["institution_kinds"] = []
            cleaned["institutions"] = Institution.objects.none()
        elif (cleaned.get("filer_level") and not cleaned.get("institution_kinds")
              and not cleaned.get("institutions") and "institutions" not in self.errors):
            self.add_error("institution_kinds", _("Choose the kinds of institutions that file the form, or name "
                                                  "the institutions."))
        return cleaned

    def save(self, commit=True):
        if not self.instance.pk:
            self.instance.county = self.county
        return super().save(commit)


class ElementChoiceField(forms.ModelChoiceField):
    """An element among those given, looked up in memory: a formset of many rows renders and
    validates with no query per row."""

    def __init__(self, *, elements: dict[int, DataElement], **kwargs):
        super().__init__(queryset=DataElement.objects.none(), **kwargs)
        self.widget.attrs["class"] = "form-select form-select-sm"
        self.elements = elements
        self.choices = [("", "---------")] + [(pk, str(e)) for pk, e in elements.items()]

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.elements[int(value)]
        except (KeyError, TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None

    def prepare_value(self, value):
        if isinstance(value, DataElement):
            return value.pk
        return super().prepare_value(value)


class FormElementForm(forms.ModelForm):
    institution_kinds = KindsField(label=_("Only for"))
    order = forms.IntegerField(label=_("Display order"), required=False, min_value=0, max_value=32000,
                               widget=forms.NumberInput(attrs={"class": "form-control form-control-sm w-5-5r"}))

    class Meta:
        model = FormElement
        fields = ["element", "section", "order", "required", "institution_kinds"]
        widgets = {"section": forms.TextInput(attrs={"list": "section-suggestions",
                                                     "class": "form-control form-control-sm"}),
                   "required": forms.CheckboxInput(attrs={"class": "form-check-input"})}

    def __init__(self, *args, elements: dict[int, DataElement], **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.element if self.instance.pk else None
        if current is not None and current.pk not in elements:
            elements = {**elements, current.pk: current}
        self.fields["element"] = ElementChoiceField(label=_("Data element"), elements=elements)

    def validate_unique(self):
        # One element per form is checked across the rows by the formset (and by the database).
        pass


class BaseFormElementFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove row")
            form.fields["DELETE"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        """No element twice on the form (rows marked for removal do not count); named by row."""
        if any(self.errors):
            return
        seen: dict[int, int] = {}
        for number, form in enumerate(self.forms, start=1):
            if not form.has_changed() and not form.instance.pk:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            element = form.cleaned_data.get("element")
            if element is None:
                continue
            if element.pk in seen:
                form.add_error("element", _("Row %(row)s: %(name)s is already on the form (row %(first)s).")
                               % {"row": number, "name": element, "first": seen[element.pk]})
            else:
                seen[element.pk] = number

    def validate_unique(self):
        pass


def form_element_formset(*, extra: int):
    return forms.inlineformset_factory(
        ReportForm, FormElement, form=FormElementForm, formset=BaseFormElementFormSet, extra=extra,
        can_delete=True, fields=["element", "section", "order", "required", "institution_kinds"])


def element_choices(county: Region) -> dict[int, DataElement]:
    """Active elements a county's form may carry, shared first then the county's own, by code."""
    qs = same_county(DataElement, county).filter(is_active=True)
    return {e.pk: e for e in sorted(qs, key=lambda e: (e.county_id is not None, e.code))}


# Indicators and validation rules ----------------------------------------------------------

def _check_formula(form, field: str, *, plain: bool = False) -> str:
    text = (form.cleaned_data.get(field) or "").strip()
    if not text:
        return text
    try:
        check(text, form.known_codes, plain=plain)
    except FormulaError as exc:
        raise ValidationError(str(exc), code="formula") from None
    return text


class IndicatorForm(_CodeMixin, forms.ModelForm):
    code_model = Indicator

    factor = forms.TypedChoiceField(label=Indicator._meta.get_field("factor").verbose_name, choices=FACTOR_CHOICES,
                                    coerce=Decimal, initial=Decimal("100"),
                                    help_text=Indicator._meta.get_field("factor").help_text)
    decimals = forms.IntegerField(label=Indicator._meta.get_field("decimals").verbose_name, min_value=0,
                                  max_value=6, initial=2)
    levels = forms.MultipleChoiceField(
        label=Indicator._meta.get_field("levels").verbose_name, choices=LEVEL_CHOICES, required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text=Indicator._meta.get_field("levels").help_text)

    class Meta:
        model = Indicator
        fields = ["code", "name", "category", "source", "numerator", "denominator", "factor", "unit_label",
                  "decimals", "aggregation", "definition", "derived_definition", "target_kind", "target_operator",
                  "target_value", "direction", "direction_points", "levels", "is_key", "order", "is_active"]
        widgets = {"numerator": forms.Textarea(attrs={"rows": 2, "class": "font-monospace", "spellcheck": "false"}),
                   "denominator": forms.Textarea(attrs={"rows": 2, "class": "font-monospace",
                                                        "spellcheck": "false"}),
                   "definition": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, county: Region | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.county = county
        self.known_codes = county_codes(county)
        self._setup_code()
        factor = self.instance.factor if self.instance.pk else None
        if factor is not None:
            match = next((value for value, _label in FACTOR_CHOICES if value == factor), None)
            if match is None:
                # A factor outside the usual ones (set in the catalogue) stays selectable.
                match = factor
                self.fields["factor"].choices = [*FACTOR_CHOICES, (factor, f"{factor:f}")]
            self.initial["factor"] = match

    def clean_numerator(self):
        return _check_formula(self, "numerator")

    def clean_denominator(self):
        return _check_formula(self, "denominator")

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("target_kind")
        if kind in (Indicator.TargetKind.THRESHOLD, Indicator.TargetKind.ALL, Indicator.TargetKind.ANY):
            if not cleaned.get("target_operator"):
                self.add_error("target_operator", _("Choose ≥, ≤ or > for the threshold."))
            if cleaned.get("target_value") is None and "target_value" not in self.errors:
                self.add_error("target_value", _("Give the threshold value."))
        if kind in (Indicator.TargetKind.DIRECTION, Indicator.TargetKind.ALL, Indicator.TargetKind.ANY):
            if not cleaned.get("direction"):
                self.add_error("direction", _("Choose whether the indicator should rise or fall."))
        if kind == Indicator.TargetKind.NONE:
            cleaned["target_operator"], cleaned["target_value"], cleaned["direction"] = "", None, ""
        return cleaned

    def save(self, commit=True):
        if not self.instance.pk:
            self.instance.county = self.county
        return super().save(commit)


class IndicatorFilterForm(forms.Form):
    q = forms.CharField(label=_("Code or name"), required=False, max_length=100)
    category = forms.ChoiceField(label=Indicator._meta.get_field("category").verbose_name, required=False)
    origin = forms.ChoiceField(label=_("Source"), required=False, choices=ElementFilterForm.ORIGIN_CHOICES)

    def __init__(self, *args, categories: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("All categories"))] + [(c, c) for c in categories]


class ValidationRuleForm(_CodeMixin, forms.ModelForm):
    code_model = ValidationRule

    class Meta:
        model = ValidationRule
        fields = ["code", "left", "operator", "right", "severity", "message", "is_active"]
        widgets = {"left": forms.TextInput(attrs={"class": "font-monospace", "spellcheck": "false"}),
                   "right": forms.TextInput(attrs={"class": "font-monospace", "spellcheck": "false"})}

    def __init__(self, *args, county: Region | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.county = county
        self.known_codes = county_codes(county)
        self._setup_code()
        self.fields["message"].help_text = _("Shown to the filer, e.g. 实际占用总床日数大于实际开放总床日数，请核实。")

    def clean_left(self):
        return _check_formula(self, "left", plain=True)

    def clean_right(self):
        return _check_formula(self, "right", plain=True)

    def save(self, commit=True):
        if not self.instance.pk:
            self.instance.county = self.county
        return super().save(commit)


class RuleFilterForm(forms.Form):
    q = forms.CharField(label=_("Code, formula or message"), required=False, max_length=100)
    origin = forms.ChoiceField(label=_("Source"), required=False, choices=ElementFilterForm.ORIGIN_CHOICES)
