"""A problem found in an uploaded file, with where it is (row, column letter, column title), and
the exception that carries them when applying an import fails. Shared by every importer."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

MAX_LISTED = 200  # problems of one file listed before "… and N more"


@dataclass
class Issue:
    """One problem, with where it is: the row as Excel numbers it, the column letter and its title.
    A warning does not stop the import; an error does."""

    message: str
    row: int | None = None
    column: str | None = None
    title: str | None = None
    warning: bool = False

    @property
    def cell(self) -> str:
        return f"{self.column}{self.row}" if self.column and self.row else ""

    @property
    def text(self) -> str:
        values = {"row": self.row, "column": self.column, "title": self.title, "message": self.message}
        if self.row and self.column:
            return _("Row %(row)s, column %(column)s (%(title)s): %(message)s") % values
        if self.row and self.title:
            return _("Row %(row)s (%(title)s): %(message)s") % values
        if self.row:
            return _("Row %(row)s: %(message)s") % values
        return self.message

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> list:
        return [self.message, self.row, self.column, self.title, self.warning]

    @classmethod
    def from_json(cls, data: list) -> Issue:
        return cls(*data)


class ImportFailed(Exception):
    """Applying an import failed; nothing was saved."""

    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(i.text for i in issues))
        self.issues = issues


def cap(errors: list[str], limit: int = MAX_LISTED) -> list[str]:
    """At most ``limit`` errors, then how many more there are."""
    if len(errors) <= limit:
        return errors
    rest = len(errors) - limit
    return errors[:limit] + [ngettext("… and %(count)d more problem.", "… and %(count)d more problems.", rest)
                             % {"count": rest}]
