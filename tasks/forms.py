"""Forms of the task-ledger pages. They check shapes; the rules live in the services."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Region
from core.widgets import QuickSelect
from tasks.deadlines import DeadlineKind, Recurrence
from tasks.evidence import MAX_EVIDENCE_BYTES, MAX_FILES_PER_REPORT
from tasks.imports.reading import MAX_UPLOAD_BYTES
from tasks.models import (
    STEP_ORDER,
    Assignment,
    Colour,
    InspectionFinding,
    Ledger,
    Step,
    SupervisionOrder,
    TaskSettings,
)
from tasks.status import Light, Status

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; an empty list when none was chosen."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class LedgerUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Ledger file"), allow_empty_file=True,
        help_text=_("An .xlsx workbook or a .csv file (UTF-8 or GB18030), at most %(mb)s MB.")
        % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)},
        widget=forms.FileInput(attrs={"accept": ".xlsx,.csv"}))
    title = forms.CharField(label=_("Title"), max_length=200, required=False,
                            help_text=_("Leave empty to take the title written above the table."))
    doc_number = forms.CharField(label=_("Document number (文号)"), max_length=100, required=False)
    issuer = forms.CharField(label=_("Issuing body"), max_length=100, required=False)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False,
                              help_text=_("The year deadlines such as 12月底 fall in; taken from the file when empty."))
    issued_on = forms.DateField(label=_("Issued on"), required=False, widget=DATE_INPUT)

    def overrides(self) -> dict:
        data = self.cleaned_data
        return {key: data.get(key) for key in ("title", "doc_number", "issuer", "year", "issued_on")
                if data.get(key) not in (None, "")}


class LedgerForm(forms.ModelForm):
    class Meta:
        model = Ledger
        fields = ["title", "doc_number", "issuer", "year", "issued_on", "note"]
        widgets = {"issued_on": DATE_INPUT, "note": forms.Textarea(attrs={"rows": 3})}


class ItemForm(forms.Form):
    section = forms.CharField(label=_("Action or category"), max_length=300, required=False,
                              help_text=_("e.g. 一、“深化改革”行动"))
    key_task = forms.CharField(label=_("Key task"), max_length=300, required=False,
                               help_text=_("e.g. 1．夯实管理责任"))
    number = forms.CharField(label=_("Item number"), max_length=30)
    text = forms.CharField(label=_("Task"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)
    lead_units_text = forms.CharField(
        label=_("Responsible units"), max_length=500,
        help_text=_("As a ledger writes them, separated by 、: 县卫生健康局、县财政局. 各医共体 means every alliance."))
    coop_units_text = forms.CharField(label=_("Cooperating units"), max_length=500, required=False)
    deadline_text = forms.CharField(label=_("Deadline"), max_length=200, required=False,
                                    help_text=_("As written: 12月底, 6月底完成并持续实施, 持续实施, 2026.09 …"))
    target_text = forms.CharField(label=_("Quantitative target"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=_("Found in the task text when left empty."))
    create_unknown = forms.BooleanField(
        label=_("Create units the county does not know yet as new departments"), required=False)


class DeadlineForm(forms.Form):
    deadline_kind = forms.ChoiceField(label=_("Kind of deadline"),
                                      choices=[c for c in DeadlineKind.choices if c[0] != DeadlineKind.UNKNOWN])
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DATE_INPUT)
    recurrence = forms.ChoiceField(label=_("Recurrence"), choices=Recurrence.choices, required=False)


def month_choices(today: date, back: int = 3) -> list[tuple[str, str]]:
    choices = []
    year, month = today.year, today.month
    for _n in range(back):
        choices.append((f"{year:04d}-{month:02d}", f"{year}年{month}月"))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return choices


class ReportForm(forms.Form):
    period = forms.ChoiceField(label=_("Month"))
    percent = forms.IntegerField(label=_("Percent done"), min_value=0, max_value=100)
    text = forms.CharField(label=_("Progress this month"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)
    marks_complete = forms.BooleanField(label=_("The task is complete (needs evidence)"), required=False)
    files = MultipleFileField(
        label=_("Evidence (佐证材料)"),
        help_text=_("PDF, images (PNG, JPEG), Word or Excel; at most %(n)s files of %(mb)s MB each. The type is "
                    "checked by the content.") % {"n": MAX_FILES_PER_REPORT, "mb": MAX_EVIDENCE_BYTES // (1024 * 1024)})
    # On a phone the camera opens for this field (capture); it is one more evidence file.
    photo = forms.FileField(
        label=_("Photo"), required=False,
        help_text=_("On a phone: take a photo with the camera as evidence."),
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}))

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].choices = month_choices(today)
        self.fields["files"].widget.attrs["accept"] = ".pdf,.png,.jpg,.jpeg,.gif,.webp,.doc,.docx,.xls,.xlsx"

    def clean(self):
        data = super().clean()
        if data.get("photo"):
            data["files"] = [*(data.get("files") or []), data["photo"]]
        return data


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("return", _("Return"))])
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             max_length=5000)


class OrderForm(forms.ModelForm):
    class Meta:
        model = SupervisionOrder
        fields = ["colour", "reply_due", "text"]
        widgets = {"reply_due": DATE_INPUT, "text": forms.Textarea(attrs={"rows": 4}),
                   "colour": forms.RadioSelect}


class ReplyForm(forms.Form):
    reply_text = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


class EscalateForm(forms.Form):
    step = forms.ChoiceField(label=_("Next step"), choices=Step.choices)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=5000)

    def __init__(self, *args, after: str | None = None, **kwargs):
        """Only the steps beyond ``after`` (the order's present step) are offered."""
        super().__init__(*args, **kwargs)
        if after is not None:
            later = STEP_ORDER[STEP_ORDER.index(after) + 1:]
            self.fields["step"].choices = [(step.value, step.label) for step in later]
            if later and not self.initial.get("step"):
                self.initial["step"] = later[0].value


class CloseForm(forms.Form):
    note = forms.CharField(label=_("Closing note"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=5000)


class InspectionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    half_year = forms.CharField(label=_("Half year"), max_length=6, help_text=_("e.g. 2026H1"))
    held_on = forms.DateField(label=_("Held on"), widget=DATE_INPUT)
    inspectors = forms.CharField(label=_("Inspectors"), max_length=300, required=False)
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class FindingForm(forms.Form):
    text = forms.CharField(label=_("Finding"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    severity = forms.ChoiceField(label=_("Severity"), choices=InspectionFinding.Severity.choices)
    unit = forms.ChoiceField(label=_("Responsible unit"), required=False)

    def __init__(self, *args, units: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "—"), *units]


class FindingTaskForm(forms.Form):
    deadline_text = forms.CharField(label=_("Deadline of the rectification"), max_length=200,
                                    help_text=_("e.g. 12月底 or 2026.12"))


class TaskSettingsForm(forms.ModelForm):
    class Meta:
        model = TaskSettings
        fields = ["due_soon_days", "behind_margin"]


class AssignmentFilterForm(forms.Form):
    AGING = [("", _("Any")), ("1-7", _("1–7 days late")), ("8-30", _("8–30 days late")),
             ("31-90", _("31–90 days late")), ("91-", _("over 90 days late"))]

    q = forms.CharField(label=_("Search"), required=False)
    # A province sees hundreds of these: QuickSelect writes the options without a template each.
    county = forms.ModelChoiceField(label=_("County"), queryset=Region.objects.none(), required=False,
                                    widget=QuickSelect)
    ledger = forms.ModelChoiceField(label=_("Ledger"), queryset=Ledger.objects.none(), required=False,
                                    widget=QuickSelect)
    alliance = forms.ModelChoiceField(label=_("Alliance"), queryset=Alliance.objects.none(), required=False,
                                      widget=QuickSelect)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("Any")), *Status.choices], required=False)
    light = forms.ChoiceField(label=_("Light"), required=False,
                              choices=[("", _("Any")), *[c for c in Light.choices if c[0]]])
    role = forms.ChoiceField(label=_("Role"), choices=[("", _("Any")), *Assignment.Role.choices], required=False)
    aging = forms.ChoiceField(label=_("Days late"), choices=AGING, required=False)
    unit = forms.CharField(required=False, widget=forms.HiddenInput)
    needs_deadline = forms.BooleanField(label=_("Deadline to set"), required=False)

    def __init__(self, *args, counties, ledgers, alliances, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = counties
        self.fields["ledger"].queryset = ledgers
        self.fields["alliance"].queryset = alliances


COLOUR_BADGE = {Colour.BLUE: "primary", Colour.YELLOW: "warning", Colour.RED: "danger"}
