"""Unified staffing (人员统一管理, seed 000 item 6; seed 001 人事制度改革 and 附件3; seed 002 编制统一、
岗位统一、人员统一): the establishment approved per institution and pooled in the alliance, posts with
their quotas, the roster, moves (transfers, secondments, 县聘乡用), recruitment plans, training records
and the county's resident population the talent targets are counted against.

A person has a *home* institution — where the 编制 and the post sit — and a working institution. A
transfer inside the alliance changes where the person works, never the home: 编制不随人走, so the
home lends the person and the other member borrows them. A secondment (下沉 / 派驻) is a period of
work elsewhere with a start and an end; the person stays on the roster of the working institution.

Identity numbers are stored encrypted (``staffing.identity``) with a keyed digest to find duplicates
and a masked form to show; only HR roles of the right scope see them whole, and every full view is
logged (``IdentityView``)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Institution, Region


class Establishment(models.Model):
    """Headcount approved for an institution (编制 by the 编办, or 员额 — quota-based posts — kept
    apart), by the nature of the unit (公益一类 / 公益二类)."""

    class Kind(models.TextChoices):
        ESTABLISHMENT = "establishment", _("Establishment (编制)")
        QUOTA = "quota", _("Quota posts (员额)")

    class Nature(models.TextChoices):
        CLASS_ONE = "class1", _("Public welfare class 1")
        CLASS_TWO = "class2", _("Public welfare class 2")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), on_delete=models.PROTECT,
                                    related_name="establishments")
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices, default=Kind.ESTABLISHMENT)
    nature = models.CharField(_("nature"), max_length=10, choices=Nature.choices, default=Nature.CLASS_ONE)
    approved = models.PositiveIntegerField(_("approved"))
    document = models.CharField(_("approval document"), max_length=100, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("establishment")
        verbose_name_plural = _("establishments")
        ordering = ["institution_id", "kind", "nature"]
        constraints = [models.UniqueConstraint(fields=["institution", "kind", "nature"], name="establishment_once")]

    def __str__(self) -> str:
        return f"{self.institution} {self.get_kind_display()} {self.get_nature_display()} {self.approved}"

    def save(self, *args, **kwargs):
        self.county_id = self.institution.county_id
        super().save(*args, **kwargs)


class PostType(models.TextChoices):
    PROFESSIONAL = "professional", _("Professional and technical")
    MANAGEMENT = "management", _("Management")
    SUPPORT = "support", _("Skilled support")


class Grade(models.TextChoices):
    SENIOR = "senior", _("Senior")
    INTERMEDIATE = "intermediate", _("Intermediate")
    JUNIOR = "junior", _("Junior")
    NONE = "none", _("None")


class PostQuota(models.Model):
    """Posts set for an institution (岗位设置) by type and grade."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), on_delete=models.PROTECT,
                                    related_name="post_quotas")
    post_type = models.CharField(_("post type"), max_length=15, choices=PostType.choices)
    grade = models.CharField(_("grade"), max_length=15, choices=Grade.choices)
    quota = models.PositiveIntegerField(_("quota"))

    class Meta:
        verbose_name = _("post quota")
        verbose_name_plural = _("post quotas")
        ordering = ["institution_id", "post_type", "grade"]
        constraints = [models.UniqueConstraint(fields=["institution", "post_type", "grade"], name="post_quota_once")]

    def __str__(self) -> str:
        return f"{self.institution} {self.get_post_type_display()} {self.get_grade_display()} {self.quota}"

    def save(self, *args, **kwargs):
        self.county_id = self.institution.county_id
        super().save(*args, **kwargs)


class Staff(models.Model):
    """One person on the roster (花名册)."""

    class Employment(models.TextChoices):
        ESTABLISHED = "established", _("On the establishment (在编)")
        CONTRACT = "contract", _("Off the establishment (编外)")
        QUOTA = "quota", _("Quota post on record (员额备案)")
        VILLAGE_DOCTOR = "village_doctor", _("Village doctor (乡村医生)")
        AGENCY = "agency", _("Agency worker (劳务派遣)")

    class Profession(models.TextChoices):
        DOCTOR = "doctor", _("Physician")
        GP = "gp", _("General practitioner")
        TCM = "tcm", _("TCM physician")
        NURSE = "nurse", _("Nurse")
        PHARMACIST = "pharmacist", _("Pharmacist")
        TECHNICIAN = "technician", _("Medical technician")
        MANAGEMENT = "management", _("Management")
        OTHER = "other", _("Other")

    class Title(models.TextChoices):
        CHIEF = "chief", _("Chief (正高级)")
        ASSOCIATE = "associate", _("Associate chief (副高级)")
        INTERMEDIATE = "intermediate", _("Intermediate (中级)")
        JUNIOR = "junior", _("Junior (师级/初级)")
        ASSISTANT = "assistant", _("Assistant (士级)")
        NONE = "none", _("No title")

    class Education(models.TextChoices):
        POSTGRADUATE = "postgraduate", _("Postgraduate")
        BACHELOR = "bachelor", _("Bachelor")
        COLLEGE = "college", _("College (大专)")
        SECONDARY = "secondary", _("Secondary vocational (中专)")
        HIGH_SCHOOL = "high_school", _("High school or below")

    class Gender(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    DOCTORS = (Profession.DOCTOR, Profession.GP, Profession.TCM)
    SENIOR_TITLES = (Title.CHIEF, Title.ASSOCIATE)
    MID_OR_ABOVE = (Title.CHIEF, Title.ASSOCIATE, Title.INTERMEDIATE)
    COLLEGE_OR_ABOVE = (Education.POSTGRADUATE, Education.BACHELOR, Education.COLLEGE)
    BACHELOR_OR_ABOVE = (Education.POSTGRADUATE, Education.BACHELOR)

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    name = models.CharField(_("name"), max_length=40)
    gender = models.CharField(_("gender"), max_length=6, choices=Gender.choices, blank=True)
    id_cipher = models.TextField(_("identity number (encrypted)"), editable=False)
    id_digest = models.CharField(_("identity number digest"), max_length=64, editable=False)
    id_masked = models.CharField(_("identity number"), max_length=18, editable=False)
    institution = models.ForeignKey(Institution, verbose_name=_("working institution"), on_delete=models.PROTECT,
                                    related_name="staff")
    home = models.ForeignKey(Institution, verbose_name=_("home institution (编制 and post)"),
                             on_delete=models.PROTECT, related_name="home_staff",
                             help_text=_("Where the establishment and the post sit; a transfer does not change it."))
    employment = models.CharField(_("employment category"), max_length=15, choices=Employment.choices)
    nature = models.CharField(_("establishment nature"), max_length=10, choices=Establishment.Nature.choices,
                              blank=True)
    profession = models.CharField(_("profession"), max_length=12, choices=Profession.choices)
    post_type = models.CharField(_("post type"), max_length=15, choices=PostType.choices,
                                 default=PostType.PROFESSIONAL)
    title = models.CharField(_("professional title"), max_length=12, choices=Title.choices, default=Title.NONE)
    education = models.CharField(_("education"), max_length=12, choices=Education.choices)
    hired_on = models.DateField(_("hired on"))
    contract_end = models.DateField(_("contract ends"), null=True, blank=True)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["institution_id", "name"]
        constraints = [models.UniqueConstraint(fields=["county", "id_digest"], name="staff_identity_once")]
        indexes = [models.Index(fields=["county", "institution"], name="staff_county_institution")]

    def __str__(self) -> str:
        return f"{self.name}（{self.institution}）"

    def save(self, *args, **kwargs):
        self.county_id = self.institution.county_id
        super().save(*args, **kwargs)

    @property
    def grade(self) -> str:
        if self.title in self.SENIOR_TITLES:
            return Grade.SENIOR
        if self.title == self.Title.INTERMEDIATE:
            return Grade.INTERMEDIATE
        if self.title in (self.Title.JUNIOR, self.Title.ASSISTANT):
            return Grade.JUNIOR
        return Grade.NONE

    def active_on(self, day: date) -> bool:
        return self.hired_on <= day and (self.left_on is None or self.left_on > day)


class Move(models.Model):
    """A move inside the alliance. A transfer (调动) and 县聘乡用 change where the person works from
    ``start`` on; a secondment (下沉 / 派驻) is work elsewhere from ``start`` to ``end``. None of them
    changes the home institution."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", _("Transfer (调动)")
        SECONDMENT = "secondment", _("Secondment (下沉/派驻)")
        COUNTY_HIRE = "county_hire", _("Hired by the county, used in a township (县聘乡用)")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    staff = models.ForeignKey(Staff, verbose_name=_("staff member"), on_delete=models.CASCADE, related_name="moves")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    from_institution = models.ForeignKey(Institution, verbose_name=_("from"), on_delete=models.PROTECT,
                                         related_name="+")
    to_institution = models.ForeignKey(Institution, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    start = models.DateField(_("start"))
    end = models.DateField(_("end"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("move")
        verbose_name_plural = _("moves")
        ordering = ["-start", "-pk"]
        indexes = [models.Index(fields=["county", "kind", "start"], name="move_county_kind_start")]
        constraints = [
            models.CheckConstraint(condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                                   name="move_dates_in_order"),
            models.CheckConstraint(condition=~Q(kind="secondment") | Q(end__isnull=False),
                                   name="secondment_has_an_end"),
        ]

    def __str__(self) -> str:
        return f"{self.staff.name} {self.get_kind_display()} {self.from_institution} → {self.to_institution}"

    def save(self, *args, **kwargs):
        self.county_id = self.staff.county_id
        super().save(*args, **kwargs)


class RecruitmentPlan(models.Model):
    """A line of the alliance's unified recruitment (统一招聘): posts to fill at a member."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        APPROVED = "approved", _("Approved")
        ADVERTISED = "advertised", _("Advertised")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey(Institution, verbose_name=_("member"), on_delete=models.PROTECT,
                                    related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    post = models.CharField(_("post"), max_length=60, help_text=_("e.g. 临床医师（全科）"))
    profession = models.CharField(_("profession"), max_length=12, choices=Staff.Profession.choices)
    employment = models.CharField(_("employment category"), max_length=15, choices=Staff.Employment.choices,
                                  default=Staff.Employment.ESTABLISHED)
    planned = models.PositiveIntegerField(_("planned"), validators=[MinValueValidator(1)])
    hired = models.PositiveIntegerField(_("hired"), default=0)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("recruitment plan")
        verbose_name_plural = _("recruitment plans")
        ordering = ["-year", "alliance_id", "institution_id", "pk"]

    def __str__(self) -> str:
        return f"{self.year} {self.institution} {self.post} ×{self.planned}"

    def save(self, *args, **kwargs):
        self.county_id = self.alliance.county_id
        super().save(*args, **kwargs)


class TrainingRecord(models.Model):
    """Training a staff member took (全科 training, 转岗培训, 进修 …)."""

    class Kind(models.TextChoices):
        GP_STANDARD = "gp_standard", _("GP standardised training")
        GP_CONVERSION = "gp_conversion", _("GP conversion training (转岗培训)")
        ADVANCED = "advanced", _("Advanced study (进修)")
        OTHER = "other", _("Other training")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    staff = models.ForeignKey(Staff, verbose_name=_("staff member"), on_delete=models.CASCADE,
                              related_name="trainings")
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    provider = models.CharField(_("where"), max_length=100, blank=True)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"), null=True, blank=True)
    completed = models.BooleanField(_("completed"), default=False)

    class Meta:
        verbose_name = _("training record")
        verbose_name_plural = _("training records")
        ordering = ["-start", "-pk"]

    def __str__(self) -> str:
        return f"{self.staff.name} {self.get_kind_display()} {self.start}"

    def save(self, *args, **kwargs):
        self.county_id = self.staff.county_id
        super().save(*args, **kwargs)


class Population(models.Model):
    """A county's resident population (常住人口) of a year, the denominator of the per-1,000 and
    per-10,000 targets."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    residents = models.PositiveIntegerField(_("resident population"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("resident population")
        verbose_name_plural = _("resident population")
        ordering = ["county_id", "-year"]
        constraints = [models.UniqueConstraint(fields=["county", "year"], name="population_once_a_year")]

    def __str__(self) -> str:
        return f"{self.county} {self.year} {self.residents}"


class IdentityView(models.Model):
    """One full view of a staff member's identity number (page, API or export)."""

    class Channel(models.TextChoices):
        PAGE = "page", _("Page")
        API = "api", _("API")
        EXPORT = "export", _("Export")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(Staff, verbose_name=_("staff member"), on_delete=models.CASCADE,
                              related_name="identity_views")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT,
                             related_name="+")
    at = models.DateTimeField(_("at"))
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)

    class Meta:
        verbose_name = _("identity number view")
        verbose_name_plural = _("identity number views")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["county", "at"], name="identity_view_county_at")]

    def __str__(self) -> str:
        return f"{self.user} {self.staff} {self.at:%Y-%m-%d %H:%M}"


class ContractReminder(models.Model):
    """A reminder sent to the HR officers that a contract ends in ``lead_days`` days (once per person,
    contract end and lead time)."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(Staff, verbose_name=_("staff member"), on_delete=models.CASCADE,
                              related_name="contract_reminders")
    contract_end = models.DateField(_("contract ends"))
    lead_days = models.PositiveSmallIntegerField(_("days before"))
    sent_at = models.DateTimeField(_("sent at"))
    recipients = models.PositiveSmallIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("contract reminder")
        verbose_name_plural = _("contract reminders")
        constraints = [models.UniqueConstraint(fields=["staff", "contract_end", "lead_days"],
                                               name="contract_reminder_once")]

    def __str__(self) -> str:
        return f"{self.staff.name} {self.contract_end} −{self.lead_days}"
