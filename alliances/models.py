"""The organisation tree: regions, institutions, alliances and effective-dated membership.

A county (``Region`` of level county) is the tenant: every institution and
alliance carries its county. Membership of an institution in an alliance is
effective-dated (``valid_from``..``valid_to``, both inclusive, ``valid_to``
empty while in force), so a figure for a past period is aggregated with the
membership in force then. The database enforces the membership rules too
(see migration 0002): exclusion constraints and triggers on PostgreSQL,
triggers on SQLite.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.validators import validate_region_code, validate_uscc


class Region(models.Model):
    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County")

    code = models.CharField(_("region code"), max_length=6, unique=True, validators=[validate_region_code],
                            help_text=_("Six-digit GB/T 2260 code, e.g. 445322."))
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", verbose_name=_("parent region"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level="province", parent__isnull=True) | Q(level__in=["city", "county"], parent__isnull=False),
                name="region_parent_matches_level",
                violation_error_message=_("A province has no parent; a city or county has one."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        expected_parent = {self.Level.CITY: self.Level.PROVINCE, self.Level.COUNTY: self.Level.CITY}
        if self.level == self.Level.PROVINCE:
            if self.parent_id:
                raise ValidationError({"parent": _("A province has no parent region.")})
            return
        if not self.parent_id:
            raise ValidationError({"parent": _("A city or county needs its parent region.")})
        if self.parent.level != expected_parent[self.level]:
            raise ValidationError({"parent": _("The parent of a %(level)s must be a %(parent)s.") % {
                "level": self.get_level_display(), "parent": self.Level(expected_parent[self.level]).label}})

    @property
    def is_county(self) -> bool:
        return self.level == self.Level.COUNTY


class Institution(models.Model):
    class Kind(models.TextChoices):
        COUNTY_GENERAL_HOSPITAL = "county_general", _("County general hospital")
        TCM_HOSPITAL = "tcm", _("Traditional Chinese medicine hospital")
        MCH_HOSPITAL = "mch", _("Maternal and child health hospital")
        CENTRAL_HEALTH_CENTRE = "central_hc", _("Central health centre")
        TOWNSHIP_HEALTH_CENTRE = "township_hc", _("Township health centre")
        COMMUNITY_HEALTH_CENTRE = "community_hc", _("Community health service centre")
        VILLAGE_CLINIC = "village_clinic", _("Village clinic")
        CDC = "cdc", _("Centre for disease control")
        OTHER = "other", _("Other")

    # Kinds that may lead an alliance (牵头医院 / 总医院).
    LEAD_KINDS = (Kind.COUNTY_GENERAL_HOSPITAL, Kind.TCM_HOSPITAL, Kind.MCH_HOSPITAL)
    # Kinds that may have village clinics under them (镇村一体化).
    PARENT_KINDS = (Kind.CENTRAL_HEALTH_CENTRE, Kind.TOWNSHIP_HEALTH_CENTRE, Kind.COMMUNITY_HEALTH_CENTRE)

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="institutions", limit_choices_to={"level": Region.Level.COUNTY})
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    parent = models.ForeignKey("self", verbose_name=_("managing institution"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children",
                               help_text=_("A village clinic belongs to its township health centre."))
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True,
                                   validators=[validate_uscc])
    beds = models.PositiveIntegerField(_("beds"), default=0)
    service_population = models.PositiveIntegerField(_("service population"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    is_sample = models.BooleanField(_("sample data"), default=False,
                                    help_text=_("Invented for the demonstration, not from an official document."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["county", "name"], name="institution_unique_name_in_county",
                                    violation_error_message=_("An institution of this name already exists in the county.")),
            models.UniqueConstraint(fields=["credit_code"], condition=~Q(credit_code=""),
                                    name="institution_unique_credit_code",
                                    violation_error_message=_("Another institution has this social credit code.")),
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="institution_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    def clean(self) -> None:
        errors = {}
        if self.county_id and not self.county.is_county:
            errors["county"] = _("An institution belongs to a county, not to a city or province.")
        if self.parent_id:
            if self.parent_id == self.pk:
                errors["parent"] = _("An institution cannot manage itself.")
            elif self.county_id and self.parent.county_id != self.county_id:
                errors["parent"] = _("The managing institution must be in the same county.")
            elif self.parent.kind not in self.PARENT_KINDS:
                errors["parent"] = _("Only a township, central or community health centre manages village clinics.")
        if self.kind == self.Kind.VILLAGE_CLINIC and not self.parent_id:
            errors["parent"] = _("A village clinic needs the township health centre that manages it.")
        if self.credit_code:
            self.credit_code = self.credit_code.strip().upper()
        if self.pk and "kind" not in errors:
            errors.update(self._kind_change_errors())
        if errors:
            raise ValidationError(errors)

    def _kind_change_errors(self) -> dict:
        """Rules a change of kind must not break (two queries, only for a saved institution)."""
        if self.kind == self.Kind.VILLAGE_CLINIC and self.memberships.exists():
            return {"kind": _("This institution has alliance memberships; a village clinic cannot have any.")}
        if self.kind not in self.LEAD_KINDS and self.memberships.filter(role=AllianceMembership.Role.LEAD).exists():
            return {"kind": _("This institution leads an alliance; only a county general, TCM or maternal and "
                              "child health hospital can lead.")}
        if self.kind not in self.PARENT_KINDS and self.children.exists():
            return {"kind": _("Village clinics are managed by this institution; only a township, central or "
                              "community health centre manages village clinics.")}
        return {}


class Alliance(models.Model):
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="alliances", limit_choices_to={"level": Region.Level.COUNTY})
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    established_on = models.DateField(_("established on"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("alliance")
        verbose_name_plural = _("alliances")
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["county", "name"], name="alliance_unique_name_in_county",
                                    violation_error_message=_("An alliance of this name already exists in the county.")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    def clean(self) -> None:
        if self.county_id and not self.county.is_county:
            raise ValidationError({"county": _("An alliance belongs to a county, not to a city or province.")})


class GovernanceMember(models.Model):
    """A seat on an alliance's 党委, 理事会 or 监事会 (seed 002: seven each)."""

    class Body(models.TextChoices):
        PARTY_COMMITTEE = "party", _("Party committee")
        BOARD = "board", _("Board of directors")
        SUPERVISORY_BOARD = "supervisory", _("Board of supervisors")

    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), on_delete=models.CASCADE,
                                 related_name="governance_members")
    body = models.CharField(_("body"), max_length=20, choices=Body.choices)
    position = models.CharField(_("position"), max_length=50, help_text=_("e.g. 书记, 理事长, 监事"))
    person_name = models.CharField(_("person"), max_length=50)
    institution = models.ForeignKey(Institution, verbose_name=_("from institution"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    affiliation = models.CharField(_("affiliation"), max_length=100, blank=True,
                                   help_text=_("For a seat held from outside the alliance, e.g. 市财政局."))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("governance seat")
        verbose_name_plural = _("governance seats")
        ordering = ["alliance_id", "body", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.get_body_display()} {self.position} {self.person_name}"

    def clean(self) -> None:
        if self.institution_id and self.alliance_id and self.institution.county_id != self.alliance.county_id:
            raise ValidationError({"institution": _("The institution must be in the alliance's county.")})


class MembershipQuerySet(models.QuerySet):
    def on(self, day: date) -> MembershipQuerySet:
        """Memberships in force on ``day``."""
        return self.filter(valid_from__lte=day).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))

    def overlapping(self, start: date, end: date | None) -> MembershipQuerySet:
        """Memberships in force on at least one day of ``start``..``end`` (``end`` None = open)."""
        qs = self.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=start))
        if end is not None:
            qs = qs.filter(valid_from__lte=end)
        return qs


class AllianceMembership(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", _("Lead institution")
        MEMBER = "member", _("Member institution")

    institution = models.ForeignKey(Institution, verbose_name=_("institution"), on_delete=models.PROTECT,
                                    related_name="memberships")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), on_delete=models.PROTECT,
                                 related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True,
                                help_text=_("Last day in force; empty while the membership lasts."))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("alliance membership")
        verbose_name_plural = _("alliance memberships")
        ordering = ["institution_id", "valid_from"]
        indexes = [models.Index(fields=["alliance", "valid_from"], name="membership_alliance_from")]
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                                   name="membership_dates_in_order",
                                   violation_error_message=_("The end date must not be before the start date.")),
            models.CheckConstraint(condition=Q(role__in=["lead", "member"]), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.institution} → {self.alliance} ({self.period_text})"

    @property
    def period_text(self) -> str:
        return f"{self.valid_from:%Y-%m-%d} — {self.valid_to:%Y-%m-%d}" if self.valid_to else f"{self.valid_from:%Y-%m-%d} —"

    def in_force_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def clean(self) -> None:
        from alliances.services import membership_check

        membership_check(self)


class JointOffice(models.Model):
    """Two institutions run by one staff (两个牌子一套人马), e.g. 县妇幼保健院 and 都城镇卫生院."""

    first = models.ForeignKey(Institution, verbose_name=_("institution"), on_delete=models.CASCADE,
                              related_name="joint_offices_as_first")
    second = models.ForeignKey(Institution, verbose_name=_("joint with"), on_delete=models.CASCADE,
                               related_name="joint_offices_as_second")
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("joint office")
        verbose_name_plural = _("joint offices")
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="joint_office_unique_pair"),
            models.CheckConstraint(condition=Q(first__lt=models.F("second")), name="joint_office_ordered_pair",
                                   violation_error_message=_("Link two different institutions.")),
        ]

    def __str__(self) -> str:
        return f"{self.first} ⇄ {self.second}"

    def other(self, institution: Institution) -> Institution:
        return self.second if institution.pk == self.first_id else self.first

    def clean(self) -> None:
        if self.first_id and self.second_id:
            if self.first_id == self.second_id:
                raise ValidationError(_("Link two different institutions."))
            if self.first.county_id != self.second.county_id:
                raise ValidationError(_("Both institutions of a joint office must be in the same county."))
