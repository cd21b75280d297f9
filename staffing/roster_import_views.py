"""The roster import pages: upload → check → preview (nothing saved), then the confirmation saves what
was previewed, all or nothing; and the template workbook (``?template=1``).

Who: users who keep a roster (``roster_institutions(scope, CHANGE)`` not empty: HR officers of an
institution, alliance or county, the alliance office, the county bureau). Users who see the portal
but keep no roster get 403; users without any grant 404.

The preview is kept in the session between the two requests: institutions by key, dates as text and
identity numbers encrypted (``identity.encrypt``), never in plain. The confirmation checks the
institutions again (the user's access or an alliance's members may have changed) and the people the
rows update; if anything changed, nothing is saved and the user uploads the file again.

The flow is the import pages' one (``core.imports.pages.ImportPage``, here ``RosterImportPage``):
the columns are found and mapped by the import engine (``core.imports``), the preview shows the
mapping panel (open when a column needs the user), the uploaded file is kept encrypted (the
``sealed``/``opened`` hooks) for a new mapping of its columns, and the mapping the user made is
remembered for the county at the confirmation (``staffing.roster_register``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from alliances import scoping
from alliances.exports import OFFICIAL_LANGUAGE
from alliances.models import Institution
from alliances.scoping import CHANGE
from core import pending, xlsx
from core.http import xlsx_response
from core.imports.pages import EXPIRED, ImportPage
from core.issues import ImportFailed, Issue
from staffing import identity
from staffing import roster_import as importer
from staffing import roster_register as register
from staffing.scoping import roster_institutions

SESSION_KEY = "staffing_roster_import"
CLAIM_KIND = "roster"  # core.pending.claim: one confirmation applies, a second click is told so
FILES_KIND = "roster-files"  # the uploaded files themselves (encrypted), for a new column mapping
TEMPLATE = "staffing/roster_import.html"
TEMPLATE_FILENAME = "花名册导入模板.xlsx"


def _institutions(request) -> list[Institution]:
    """The institutions whose roster the user keeps (one query); 404 for users who see nothing, 403
    for users who see the portal but keep no roster."""
    scope = scoping.scope_of(request.user)
    if scope.is_empty:
        raise Http404(_("Not found."))
    institutions = list(roster_institutions(scope, CHANGE).select_related("county").order_by("county_id", "name"))
    if not institutions:
        raise register.no_permission()
    return institutions


def _context(institutions: list[Institution]) -> dict:
    return {"institutions": institutions, "roster_columns": importer.COLUMNS, "max_rows": f"{importer.MAX_ROWS:,}",
            "counties": sorted({i.county.name for i in institutions})}


@login_required
@require_http_methods(["GET", "POST"])
def roster_import(request):
    """Upload → check → preview; nothing is saved before the confirmation. ``?template=1``: the
    template workbook."""
    institutions = _institutions(request)
    if request.method == "GET" and request.GET.get("template"):
        return xlsx_response(template_xlsx(institutions), TEMPLATE_FILENAME)
    return PAGE.handle(request, institutions)


@login_required
@require_POST
def roster_import_confirm(request):
    """Save what was previewed, all or nothing."""
    return PAGE.confirm(request, _institutions(request))


# The page on the import flow (core.imports.pages) ---------------------------------------------------
# Its scope is the list of institutions whose roster the user keeps (the county is known once the
# file is read). The preview stays in the session (``SESSION_KEY``: identity numbers encrypted, the
# claim's token beside it) and is confirmed at its own address; the confirmation does not plan
# again: ``register.save_rows`` checks the institutions and the people when it writes.

class _Upload:
    """The upload form: the file, nothing else."""

    def __init__(self, request=None):
        self.is_bound = request is not None
        self.file = request.FILES.get("file") if request is not None else None

    def is_valid(self) -> bool:
        return self.file is not None


class _Columns:
    """A roster file's column plan as the flow keeps it (no sample values)."""

    def __init__(self, parsed: importer.Parsed):
        self.parsed = parsed

    def to_json(self) -> dict:
        return register.kept_plan(self.parsed.plan)

    @property
    def needs_user(self) -> bool:
        return self.parsed.needs_mapping


class _Read:
    """A roster file as read, in the flow's words: no table while it has any error."""

    def __init__(self, parsed: importer.Parsed, user_pk: int):
        self.parsed, self.user_pk = parsed, user_pk
        self.table = parsed if parsed.ok else None
        self.problems = []
        self.columns = _Columns(parsed) if parsed.plan is not None else None
        self.data, self.name = parsed.data, parsed.filename


class _Plan:
    """A file without errors: confirmed even when nothing changes (the counts are shown)."""

    ok = has_changes = True

    def __init__(self, parsed: importer.Parsed):
        self.parsed = parsed

    def fingerprint(self) -> str:
        return ""


class RosterImportPage(ImportPage):
    register, pending_kind, files_kind = register.NAME, CLAIM_KIND, FILES_KIND
    replan_on_confirm = False  # save_rows checks again when it writes

    def owner(self, request, scope) -> dict:
        return {"user": request.user.pk}

    def saved_for(self, scope):
        return register.saved_for(i.county_id for i in scope)

    def url(self, scope) -> str:
        return reverse("staffing:roster_import")

    def done_url(self, scope) -> str:
        return reverse("staffing:roster")

    def upload_form(self, request=None):
        return _Upload(request)

    def read_upload(self, request, scope, form, *, saved_for):
        request.session.pop(SESSION_KEY, None)  # a new upload replaces any earlier preview
        return _Read(importer.read(form.file, scope, saved_for=saved_for), request.user.pk)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        request.session.pop(SESSION_KEY, None)
        return _Read(importer.read_data(data, name, scope, mapping=mapping,
                                        saved_for=None if mapping is not None else saved_for), request.user.pk)

    def sealed(self, data: bytes) -> bytes:
        """The kept file encrypted: it has the identity numbers in plain."""
        return identity.encrypt_bytes(data)

    def opened(self, data: bytes) -> bytes | None:
        return identity.decrypt_bytes(data)

    def plan(self, request, scope, read, extra):
        return _Plan(read.parsed)

    def payload(self, read, plan, extra) -> dict:
        parsed = read.parsed
        return {**importer.to_session(parsed, read.user_pk), "filename": parsed.filename,
                "columns": register.kept_plan(parsed.plan)}

    # The preview in the session, confirmed by the claim's token kept beside it.

    def keep(self, request, scope, payload, *, fingerprint) -> str:
        token = pending.new_token()
        request.session[SESSION_KEY] = {**payload, "claim": token}
        return token

    def confirm_token(self, request, scope) -> str:
        stored = request.session.get(SESSION_KEY)
        claim = stored.get("claim") if isinstance(stored, dict) else None
        return claim if isinstance(claim, str) else pending.new_token()

    def kept(self, request, scope, token):
        stored = request.session.get(SESSION_KEY)
        found = importer.from_session(stored, request.user.pk)
        return None if found is None else ({"stored": stored, "found": found}, "")

    def forget(self, request, scope, token) -> None:
        request.session.pop(SESSION_KEY, None)

    def confirm(self, request, scope):
        stored = request.session.get(SESSION_KEY)
        if isinstance(stored, dict) and stored.get("done"):  # a second click after the first one finished
            messages.info(request, pending.ALREADY_CONFIRMED)
            return redirect(self.done_url(scope))
        return super().confirm(request, scope)

    def expired(self, request, scope):
        request.session.pop(SESSION_KEY, None)
        if "remap" in request.POST:
            return render(request, TEMPLATE, {**_context(scope), "errors": [_(EXPIRED)]}, status=400)
        messages.error(request, _("Nothing to import: upload the file again."))
        return redirect(self.url(scope))

    def replan(self, request, scope, payload):
        return payload["found"]

    def apply(self, request, scope, plan, payload):
        county_id, rows = plan
        stored = payload["stored"]
        county = next((i.county for i in scope if i.county_id == county_id), None)
        try:
            with transaction.atomic():
                counts = register.save_rows(county_id, rows, scope)
                register.finish(request, county, county_id, filename=stored.get("filename", ""), counts=counts,
                                plan=stored.get("columns") if isinstance(stored.get("columns"), dict) else None)
        except (register.Changed, IntegrityError):
            raise ImportFailed([Issue(_("The institutions you keep or the people in the file changed since the "
                                        "preview; nothing was saved. Upload the file again."))]) from None
        return counts

    def finish(self, request, scope, plan, payload, result) -> str:
        request.session[SESSION_KEY] = {"done": True}  # the rows are gone; a second click is told so
        messages.success(request, _("Roster imported: %(new)s new, %(updated)s updated, %(unchanged)s unchanged.")
                         % result)
        return self.done_url(scope)

    # The pages.

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None):
        context = _context(scope)
        if form.is_bound and not form.is_valid():
            request.session.pop(SESSION_KEY, None)
            context["errors"], status = [_("Choose the .xlsx file to import.")], 400
        elif error:
            context["errors"] = [error]
        return render(request, TEMPLATE, context, status=status)

    def unreadable(self, request, scope, read, form, mapping):
        return render(request, TEMPLATE, {**_context(scope), **_panel(read.parsed, mapping),
                                          "errors": read.parsed.errors}, status=400)

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        if apply_issues:  # the confirmation found the portal changed: back to the upload
            for issue in apply_issues:
                messages.error(request, issue.text)
            return redirect(self.url(scope))
        parsed = plan.parsed
        context = {**_context(scope), **_panel(parsed, mapping)}
        if mapping and mapping.get("mapping_errors"):  # the mapping form was wrong: no preview to confirm
            self.forget(request, scope, token)
            return render(request, TEMPLATE, {**context, "errors": parsed.errors}, status=400)
        context.update(parsed=parsed, rows=parsed.rows, filename=parsed.filename, total=len(parsed.rows),
                       new=parsed.count(importer.NEW), updated=parsed.count(importer.UPDATED),
                       unchanged=parsed.count(importer.UNCHANGED))
        return render(request, TEMPLATE, context)


PAGE = RosterImportPage()


def _panel(parsed: importer.Parsed, mapping: dict | None) -> dict:
    """The mapping panel's context: the sample values masked, the errors in the page's own list."""
    if parsed.plan is None or not mapping or not mapping.get("remap_token"):
        return {}
    columns = register.shown_plan(parsed.plan)
    columns["errors"] = []  # the page's list of errors names them
    return {"columns": columns, "remap_token": mapping["remap_token"], "remap_url": mapping["remap_url"],
            "mapping_open": mapping["mapping_open"], "mapping_errors": mapping["mapping_errors"],
            "needs_mapping": parsed.needs_mapping}


# The template workbook --------------------------------------------------------------------------

GREY = "808080"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
WIDTHS = {"name": 12, "number": 22, "institution": 24, "home": 24, "hired_on": 13, "contract_end": 13,
          "left_on": 13}
TEMPLATE_ROWS = 1000  # rows the drop-down lists and formats cover


def _example(institutions: list[Institution]) -> dict:
    from datetime import date

    return {"name": "示例：张三（导入时忽略此行）", "number": "11010519491231002X",
            "institution": institutions[0].name, "home": "", "employment": "在编", "nature": "公益一类",
            "profession": "医师", "post_type": "专业技术", "title": "中级", "education": "本科",
            "hired_on": date(2015, 7, 1), "contract_end": date(2030, 6, 30), "left_on": None}


def _notes() -> dict[str, str]:
    return {
        "name": _("The person's name. Rows whose name starts with 示例 are skipped."),
        "number": _("18 characters (the last may be X). Keep the column as text, or Excel drops digits. A person "
                    "already on the county's roster (same number) is updated; the others are added."),
        "institution": _("Where the person works: an institution's name as in the portal (the list is below)."),
        "home": _("Where the 编制 and the post sit. Blank: the working institution for a new person; unchanged for "
                  "a person already on the roster."),
        "nature": _("For staff on the establishment. Blank: none."),
        "post_type": _("Blank: 专业技术."),
        "title": _("Blank: 无. The titles' names are accepted too: 主任医师 (正高级), 副主任医师 (副高级), "
                   "主治医师, 主管护师, 主管药师, 主管技师 (中级), 医师, 护师, 药师, 技师 (初级), 医士, 护士, 药士, "
                   "技士 (士级)."),
        "education": _("硕士 and 博士 count as 研究生; 高中 and 初中 as 高中及以下."),
        "hired_on": _("A date: 2020-07-01, 2020/7/1, 2020年7月1日 or 20200701 (or an Excel date)."),
        "contract_end": _("A date (2020-07-01, 2020/7/1, 2020年7月1日, 20200701 or an Excel date), not before "
                          "入职日期."),
        "left_on": _("A date (2020-07-01, 2020/7/1, 2020年7月1日, 20200701 or an Excel date), not before 入职日期. "
                     "Blank: still working."),
    }


def template_xlsx(institutions: list[Institution]) -> bytes:
    """The roster template: the header row and a grey example row on 花名册, drop-down lists for the
    choice columns and the institutions, and 填写说明 listing the accepted values."""
    with translation.override(OFFICIAL_LANGUAGE):
        wb = Workbook()
        ws = wb.active
        ws.title = importer.SHEET
        help_ws = wb.create_sheet(importer.HELP_SHEET)
        example = _example(institutions)
        for index, column in enumerate(importer.COLUMNS, start=1):
            letter = get_column_letter(index)
            head = xlsx.put(ws, 1, index, column.title)
            head.font = Font(bold=True)
            head.fill = REQUIRED_FILL if column.required else HEADER_FILL
            head.alignment = Alignment(horizontal="center")
            cell = xlsx.put(ws, 2, index, example[column.key])
            cell.font = Font(italic=True, color=GREY)
            ws.column_dimensions[letter].width = WIDTHS.get(column.key, 11)
            if column.key in importer.DATE_FIELDS:
                cell.number_format = "yyyy-mm-dd"
                ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
            else:
                cell.number_format = "@"
                ws.column_dimensions[letter].number_format = "@"
        ws.freeze_panes = "A2"

        # 填写说明: each column, then the institutions (the drop-down list of 工作单位 and 编制所在单位).
        xlsx.append(help_ws, [_("Column title"), _("Required"), _("Values to fill in"), _("Notes")])
        for cell in help_ws[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        notes = _notes()
        for column in importer.COLUMNS:
            xlsx.append(help_ws, [column.title, _("Required") if column.required else _("Optional"),
                                  "、".join(importer.SHOWN_CHOICES.get(column.key, [])), notes.get(column.key, "")])
        xlsx.append(help_ws, [])
        several = len({i.county_id for i in institutions}) > 1
        xlsx.append(help_ws, [_("Institutions whose roster you keep")])
        help_ws.cell(row=help_ws.max_row, column=1).font = Font(bold=True)
        first = help_ws.max_row + 1
        for institution in institutions:
            xlsx.append(help_ws, [institution.name, institution.county.name if several else ""])
        last = help_ws.max_row
        for letter, width in (("A", 26), ("B", 10), ("C", 44), ("D", 70)):
            help_ws.column_dimensions[letter].width = width
        for row in help_ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        xlsx.append(help_ws, [])
        xlsx.append(help_ws, [_("Rows with an error are named on the import page; nothing is saved until every row is "
                          "right and you confirm the preview.")])

        for index, column in enumerate(importer.COLUMNS, start=1):
            letter = get_column_letter(index)
            if column.key in importer.SHOWN_CHOICES:
                formula = '"' + ",".join(importer.SHOWN_CHOICES[column.key]) + '"'
            elif column.key in ("institution", "home"):
                formula = f"'{importer.HELP_SHEET}'!$A${first}:$A${last}"
            else:
                continue
            # 职称 takes the titles' names too: the list suggests, it does not refuse.
            validation = DataValidation(type="list", formula1=formula, allow_blank=True,
                                        showErrorMessage=column.key != "title")
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
            ws.add_data_validation(validation)
        return xlsx.save(wb)
