"""Responsible units as ledgers write them, resolved to the county's units.

``split_units("县卫生健康局、县委编办、县财政局")`` gives the names; a name cut by a line break
inside a Word cell ("县卫生\\n健康局") is joined again. ``UnitDirectory`` (the county's
departments, institutions and alliances, read once: three queries) resolves each name:

- "各医共体" (and its variants) fans out: one unit per active alliance of the county;
  "各医共体牵头医院" gives the lead institution of each;
- "各地卫生健康行政部门" is the county's health bureau (县卫生健康局 / 市卫生健康局);
- a department matches by name or alias, spelled with or without the county prefix (县/市/区)
  and with the usual abbreviations (人社局 = 人力资源社会保障局 = 人力资源和社会保障局);
- an institution or an alliance matches by its name or short name;
- anything else is unknown: the import offers to create it as a department or to map it to an
  existing unit (the mapping is kept as an alias).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from alliances.models import Alliance, AllianceMembership, Institution, Region
from tasks.models import Department

NONE_TEXTS = {"", "—", "——", "-", "--", "－", "无", "/", "／", "暂无"}
_SPLIT_RE = re.compile(r"[、，,；;/／\s]+")
# Endings of a unit's name; a fragment without one was cut by a line break and joins the next.
_UNIT_ENDINGS = tuple("局办委院心部门室所站体组会队处科股位构府厅司社团校馆")

ALL_ALLIANCES = {"各医共体", "各县域医共体", "各紧密型县域医共体", "各紧密型医共体", "全县各医共体", "所有医共体"}
ALL_LEADS = {"各医共体牵头医院", "各牵头医院", "各医共体牵头单位", "各医共体总医院"}
HEALTH_BUREAU = {"各地卫生健康行政部门", "卫生健康行政部门", "各县卫生健康局", "各县（市、区）卫生健康局",
                 "各县(市、区)卫生健康局", "各地卫生健康局", "各级卫生健康行政部门"}
HEALTH_BUREAU_KEY = "卫生健康局"

# Canonical spellings: longer forms first.
_ABBREVIATIONS = [
    ("人力资源和社会保障局", "人力资源社会保障局"),
    ("人社局", "人力资源社会保障局"),
    ("医疗保障局", "医保局"),
    ("发展和改革局", "发展改革局"),
    ("发改局", "发展改革局"),
    ("卫生健康委员会", "卫生健康局"),
    ("卫生健康委", "卫生健康局"),
    ("卫健委", "卫生健康局"),
    ("卫健局", "卫生健康局"),
    ("市场监督管理局", "市场监管局"),
    ("机构编制委员会办公室", "编办"),
    ("委编办", "编办"),
    ("农业农村和科技局", "农牧和科技局"),
]
_PREFIXES = ("县级", "县", "市", "区", "旗")


def _nfkc(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def is_none_text(text: str | None) -> bool:
    return _nfkc(text or "") in NONE_TEXTS


def split_units(text: str | None) -> list[str]:
    """The unit names in a cell, in order, without duplicates."""
    if text is None or is_none_text(text):
        return []
    fragments = [f for f in _SPLIT_RE.split(unicodedata.normalize("NFC", str(text)).strip()) if f]
    names: list[str] = []
    pending = ""
    for fragment in fragments:
        if fragment in NONE_TEXTS:
            continue
        pending += fragment
        if pending.endswith(_UNIT_ENDINGS):
            names.append(pending)
            pending = ""
    if pending:
        names.append(pending)
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n))]


def county_prefix(county: Region) -> str:
    """县 for 郁南县, 市 for 万源市 (a county-level city), 区 for a district."""
    return county.name[-1] if county.name and county.name[-1] in "县市区旗" else "县"


def _strip_prefix(name: str, county: Region | None) -> str:
    if county is not None and name.startswith(_nfkc(county.name)) and len(name) > len(county.name) + 1:
        return name[len(county.name):]
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) - len(prefix) >= 2:
            return name[len(prefix):]
    return name


def department_key(name: str, county: Region | None = None) -> str:
    """How department names are compared: without the county's name or the 县/市 prefix, with the
    usual abbreviations spelled out one way."""
    key = _strip_prefix(_nfkc(name), county)
    for long, short in _ABBREVIATIONS:
        key = key.replace(long, short)
    return key


def _name_key(name: str) -> str:
    return _nfkc(name)


@dataclass(frozen=True)
class UnitRef:
    """A resolved unit: ``kind`` is department, institution or alliance."""

    kind: str
    pk: int
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.pk}"


@dataclass
class Resolution:
    text: str
    units: list[UnitRef] = field(default_factory=list)
    fan_out: bool = False
    unknown: bool = False
    # For an unknown name: the department the portal would create, or the health bureau to create.
    proposed_name: str = ""
    suggestion: UnitRef | None = None


class UnitDirectory:
    """The units of one county, read once (four queries), resolving names without further queries.
    ``extra`` maps names to units decided by the user during an import (create or map)."""

    def __init__(self, county: Region, *, on: date):
        self.county = county
        self.prefix = county_prefix(county)
        self.departments = list(Department.objects.filter(county=county, is_active=True).order_by("pk"))
        self.institutions = list(Institution.objects.filter(county=county, is_active=True).order_by("pk"))
        self.alliances = list(Alliance.objects.filter(county=county, is_active=True).order_by("pk"))
        leads = dict(AllianceMembership.objects.on(on).filter(alliance__in=self.alliances,
                                                              role=AllianceMembership.Role.LEAD)
                     .values_list("alliance_id", "institution_id"))
        by_pk = {i.pk: i for i in self.institutions}
        self.lead_of = {a.pk: by_pk[leads[a.pk]] for a in self.alliances if leads.get(a.pk) in by_pk}
        self._departments: dict[str, Department] = {}
        for department in self.departments:
            for name in (department.name, *department.aliases):
                self._departments.setdefault(department_key(name, county), department)
        self._exact_aliases = {_name_key(alias): d for d in self.departments for alias in d.aliases}
        self._institutions: dict[str, Institution] = {}
        for institution in self.institutions:
            for name in (institution.name, institution.short_name):
                if name:
                    self._institutions.setdefault(_name_key(name), institution)
        self._alliances: dict[str, Alliance] = {}
        for alliance in self.alliances:
            for name in (alliance.name, alliance.short_name):
                if name:
                    self._alliances.setdefault(_name_key(name), alliance)
        self.extra: dict[str, list[UnitRef]] = {}

    # Lookups ------------------------------------------------------------------------------

    @staticmethod
    def _department_ref(department: Department) -> UnitRef:
        return UnitRef("department", department.pk, department.name)

    def department_by_key(self, key: str) -> Department | None:
        return self._departments.get(key)

    def health_bureau_name(self) -> str:
        return f"{self.prefix}{HEALTH_BUREAU_KEY}"

    def resolve(self, text: str) -> Resolution:
        name = _name_key(text)
        if name in self.extra:
            return Resolution(text, units=list(self.extra[name]))
        if name in ALL_ALLIANCES:
            return Resolution(text, units=[UnitRef("alliance", a.pk, a.display_name) for a in self.alliances],
                              fan_out=True)
        if name in ALL_LEADS:
            units = [UnitRef("institution", self.lead_of[a.pk].pk, self.lead_of[a.pk].display_name)
                     for a in self.alliances if a.pk in self.lead_of]
            return Resolution(text, units=units, fan_out=True)
        if name in self._exact_aliases:
            return Resolution(text, units=[self._department_ref(self._exact_aliases[name])])
        if name in self._institutions:
            institution = self._institutions[name]
            return Resolution(text, units=[UnitRef("institution", institution.pk, institution.display_name)])
        if name in self._alliances:
            alliance = self._alliances[name]
            return Resolution(text, units=[UnitRef("alliance", alliance.pk, alliance.display_name)])
        if name in HEALTH_BUREAU:
            key, proposed = HEALTH_BUREAU_KEY, self.health_bureau_name()
        else:
            key, proposed = department_key(text, self.county), self._proposed_name(text)
        department = self._departments.get(key)
        if department is not None:
            return Resolution(text, units=[self._department_ref(department)])
        return Resolution(text, unknown=True, proposed_name=proposed, suggestion=self._suggest(text))

    def _proposed_name(self, text: str) -> str:
        """The name a new department gets: as written, with the county's prefix where the text has
        a generic "各…" or none (各医共体管委会办公室 → 县医共体管委会办公室)."""
        name = _name_key(text)
        if name.startswith("各地"):
            name = name[2:]
        elif name.startswith("各"):
            name = name[1:]
        if not name.startswith((*_PREFIXES, _nfkc(self.county.name))):
            name = self.prefix + name
        return name

    def _suggest(self, text: str) -> UnitRef | None:
        """The department whose name contains the unknown one (市保障局 → 市医疗保障局), when exactly
        one does."""
        wanted = _strip_prefix(_name_key(text), self.county)
        if len(wanted) < 2:
            return None
        matches = [d for d in self.departments if wanted in _strip_prefix(_name_key(d.name), self.county)]
        return self._department_ref(matches[0]) if len(matches) == 1 else None
