"""Reads of the organisation tree. Each costs one query unless it says otherwise."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Prefetch, Q, QuerySet

from alliances.models import Alliance, AllianceMembership, Institution


def alliance_members_on(*, alliance: Alliance, on: date) -> QuerySet[AllianceMembership]:
    """Memberships of ``alliance`` in force on ``on``, lead first."""
    return (
        AllianceMembership.objects.on(on)
        .filter(alliance=alliance)
        .select_related("institution")
        .order_by("role", "institution__name")  # "lead" sorts before "member"
    )


def alliance_institutions_on(*, alliance: Alliance, on: date, with_village_clinics: bool = False) -> QuerySet[Institution]:
    """Institutions that are members of ``alliance`` on ``on``; optionally with the village
    clinics those members manage (a clinic follows its township centre)."""
    member_ids = AllianceMembership.objects.on(on).filter(alliance=alliance).values("institution_id")
    condition = Q(pk__in=member_ids)
    if with_village_clinics:
        condition |= Q(parent_id__in=member_ids, kind=Institution.Kind.VILLAGE_CLINIC)
    return Institution.objects.filter(condition)


def institution_membership_on(*, institution: Institution, on: date) -> AllianceMembership | None:
    """The membership of ``institution`` in force on ``on`` (a village clinic answers for its
    township centre), or None."""
    target = institution.parent_id if institution.kind == Institution.Kind.VILLAGE_CLINIC else institution.pk
    return (
        AllianceMembership.objects.on(on).filter(institution_id=target).select_related("alliance").first()
    )


def institution_alliance_on(*, institution: Institution, on: date) -> Alliance | None:
    """The alliance ``institution`` belongs to on ``on``, or None."""
    membership = institution_membership_on(institution=institution, on=on)
    return membership.alliance if membership else None


def alliance_by_institution_on(*, institution_ids, on: date) -> dict[int, int]:
    """``{institution_id: alliance_id}`` on ``on`` for many institutions at once (one query):
    the basis of aggregating a past period with the membership in force then."""
    return dict(
        AllianceMembership.objects.on(on)
        .filter(institution_id__in=list(institution_ids))
        .values_list("institution_id", "alliance_id")
    )


def membership_history(*, institution: Institution) -> QuerySet[AllianceMembership]:
    return institution.memberships.select_related("alliance").order_by("-valid_from")


def alliances_with_structure(*, alliances: QuerySet[Alliance], on: date) -> list[Alliance]:
    """Alliances with ``current_memberships`` (lead first, institutions and their village
    clinics prefetched) and ``member_count`` / ``clinic_count``. Four queries whatever the size."""
    memberships = (
        AllianceMembership.objects.on(on)
        .select_related("institution")
        .prefetch_related(
            Prefetch(
                "institution__children",
                queryset=Institution.objects.filter(kind=Institution.Kind.VILLAGE_CLINIC, is_active=True).order_by("name"),
                to_attr="village_clinics",
            )
        )
        .order_by("role", "institution__name")
    )
    result = list(
        alliances.prefetch_related(Prefetch("memberships", queryset=memberships, to_attr="current_memberships"))
        .order_by("name")
    )
    for alliance in result:
        alliance.lead_membership = next((m for m in alliance.current_memberships if m.role == "lead"), None)
        alliance.member_count = len(alliance.current_memberships)
        alliance.clinic_count = sum(len(m.institution.village_clinics) for m in alliance.current_memberships)
    return result


def county_counts(*, county_ids, on: date) -> dict[int, dict[str, int]]:
    """Per county: alliances, institutions (not village clinics), village clinics, institutions
    in no alliance on ``on``. Three queries for any number of counties."""
    county_ids = list(county_ids)
    counts = {cid: {"alliances": 0, "institutions": 0, "village_clinics": 0, "unaffiliated": 0} for cid in county_ids}
    for row in (
        Alliance.objects.filter(county_id__in=county_ids, is_active=True)
        .values("county_id").annotate(n=Count("pk"))
    ):
        counts[row["county_id"]]["alliances"] = row["n"]
    in_alliance = AllianceMembership.objects.on(on).values("institution_id")
    for row in (
        Institution.objects.filter(county_id__in=county_ids, is_active=True)
        .values("county_id")
        .annotate(
            institutions=Count("pk", filter=~Q(kind=Institution.Kind.VILLAGE_CLINIC)),
            village_clinics=Count("pk", filter=Q(kind=Institution.Kind.VILLAGE_CLINIC)),
            unaffiliated=Count(
                "pk", filter=~Q(kind=Institution.Kind.VILLAGE_CLINIC) & ~Q(pk__in=in_alliance)
            ),
        )
    ):
        counts[row["county_id"]].update(
            institutions=row["institutions"], village_clinics=row["village_clinics"], unaffiliated=row["unaffiliated"]
        )
    return counts
