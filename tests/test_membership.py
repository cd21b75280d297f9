"""Effective-dated membership: the rules in the services (clear messages) and in the
database (a backstop for anything that bypasses the services)."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from alliances import selectors, services
from alliances.models import AllianceMembership, Institution
from tests.factories import AllianceFactory, InstitutionFactory

LEAD = AllianceMembership.Role.LEAD
MEMBER = AllianceMembership.Role.MEMBER
D = date


def members_on(alliance, day):
    return {m.institution.name for m in selectors.alliance_members_on(alliance=alliance, on=day)}


# Selectors across a move -------------------------------------------------------------

def test_members_on_date_before_and_after_a_move(world):
    services.institution_move(institution=world.centre2, to_alliance=world.alliance_b, on=D(2026, 7, 1))

    assert members_on(world.alliance_a, D(2026, 6, 30)) == {"县人民医院", "平台镇卫生院", "桂圩镇卫生院"}
    assert members_on(world.alliance_a, D(2026, 7, 1)) == {"县人民医院", "平台镇卫生院"}
    assert members_on(world.alliance_b, D(2026, 6, 30)) == {"县中医院", "通门镇卫生院"}
    assert members_on(world.alliance_b, D(2026, 7, 1)) == {"县中医院", "通门镇卫生院", "桂圩镇卫生院"}

    assert selectors.institution_alliance_on(institution=world.centre2, on=D(2026, 6, 30)) == world.alliance_a
    assert selectors.institution_alliance_on(institution=world.centre2, on=D(2026, 7, 1)) == world.alliance_b
    assert selectors.institution_alliance_on(institution=world.centre2, on=D(2019, 12, 31)) is None

    history = list(selectors.membership_history(institution=world.centre2))
    assert [(m.alliance.name, m.valid_from, m.valid_to) for m in history] == [
        ("第三医共体", D(2026, 7, 1), None),
        ("第一医共体", D(2020, 1, 1), D(2026, 6, 30)),
    ]


def test_bulk_alliance_lookup_uses_membership_in_force_on_the_day(world, django_assert_num_queries):
    services.institution_move(institution=world.centre2, to_alliance=world.alliance_b, on=D(2026, 7, 1))
    ids = [world.centre.pk, world.centre2.pk, world.centre_b.pk]
    with django_assert_num_queries(1):
        before = selectors.alliance_by_institution_on(institution_ids=ids, on=D(2026, 6, 1))
    after = selectors.alliance_by_institution_on(institution_ids=ids, on=D(2026, 8, 1))
    assert before[world.centre2.pk] == world.alliance_a.pk
    assert after[world.centre2.pk] == world.alliance_b.pk
    assert before[world.centre.pk] == after[world.centre.pk] == world.alliance_a.pk


def test_village_clinic_follows_its_township_centre(world):
    assert selectors.institution_alliance_on(institution=world.clinic, on=D(2026, 1, 1)) == world.alliance_a
    with_clinics = selectors.alliance_institutions_on(alliance=world.alliance_a, on=D(2026, 1, 1),
                                                      with_village_clinics=True)
    assert world.clinic in with_clinics
    assert world.clinic not in selectors.alliance_institutions_on(alliance=world.alliance_a, on=D(2026, 1, 1))


# Rules in the services ----------------------------------------------------------------

def test_overlapping_membership_is_rejected_with_a_clear_message(world):
    with pytest.raises(ValidationError) as excinfo:
        services.membership_create(institution=world.centre, alliance=world.alliance_b, valid_from=D(2025, 1, 1))
    message = " ".join(excinfo.value.messages)
    assert "平台镇卫生院" in message and "第一医共体" in message and "2020-01-01" in message
    assert not world.centre.memberships.filter(alliance=world.alliance_b).exists()


def test_overlap_with_a_closed_membership_is_rejected_and_adjacent_is_allowed(world):
    newcomer = InstitutionFactory(county=world.yn, name="宝珠镇卫生院")
    services.membership_create(institution=newcomer, alliance=world.alliance_a, valid_from=D(2021, 1, 1),
                               valid_to=D(2021, 12, 31))
    with pytest.raises(ValidationError):
        services.membership_create(institution=newcomer, alliance=world.alliance_b, valid_from=D(2021, 12, 31))
    services.membership_create(institution=newcomer, alliance=world.alliance_b, valid_from=D(2022, 1, 1))
    assert newcomer.memberships.count() == 2


def test_second_lead_is_rejected(world):
    second_hospital = InstitutionFactory(county=world.yn, name="县第二人民医院", kind=Institution.Kind.COUNTY_GENERAL_HOSPITAL)
    with pytest.raises(ValidationError) as excinfo:
        services.membership_create(institution=second_hospital, alliance=world.alliance_a, role=LEAD,
                                   valid_from=D(2026, 1, 1))
    assert "县人民医院" in " ".join(excinfo.value.messages)
    assert excinfo.value.code == "two_leads"


def test_member_without_a_lead_is_rejected(world):
    empty = AllianceFactory(county=world.yn, name="第二医共体")
    newcomer = InstitutionFactory(county=world.yn, name="大湾镇卫生院")
    with pytest.raises(ValidationError) as excinfo:
        services.membership_create(institution=newcomer, alliance=empty, valid_from=D(2026, 1, 1))
    assert excinfo.value.code == "no_lead"
    assert "2026-01-01" in " ".join(excinfo.value.messages)


def test_member_before_the_lead_joined_is_rejected(world):
    newcomer = InstitutionFactory(county=world.yn, name="大湾镇卫生院")
    with pytest.raises(ValidationError) as excinfo:
        services.membership_create(institution=newcomer, alliance=world.alliance_a, valid_from=D(2019, 6, 1))
    assert "2019-06-01" in " ".join(excinfo.value.messages)


def test_institution_of_another_county_cannot_join(world):
    with pytest.raises(ValidationError) as excinfo:
        services.institution_move(institution=world.other_centre, to_alliance=world.alliance_a, on=D(2026, 1, 1))
    assert excinfo.value.code == "other_county"
    # Nothing changed: the outsider's membership is still open.
    assert world.other_centre.memberships.get().valid_to is None


def test_moving_the_lead_out_while_members_remain_is_rejected(world):
    with pytest.raises(ValidationError) as excinfo:
        services.institution_move(institution=world.hospital, to_alliance=None, on=D(2026, 1, 1))
    assert excinfo.value.code == "no_lead"
    assert world.hospital.memberships.get().valid_to is None


def test_move_date_must_follow_the_current_start(world):
    with pytest.raises(ValidationError) as excinfo:
        services.institution_move(institution=world.centre, to_alliance=world.alliance_b, on=D(2020, 1, 1))
    assert excinfo.value.code == "move_too_early"


def test_only_hospitals_lead_and_village_clinics_do_not_join(world):
    other = AllianceFactory(county=world.yn, name="第二医共体")
    with pytest.raises(ValidationError) as excinfo:
        services.membership_create(institution=InstitutionFactory(county=world.yn), alliance=other, role=LEAD,
                                   valid_from=D(2026, 1, 1))
    assert excinfo.value.code == "lead_kind"
    with pytest.raises(ValidationError) as excinfo:
        services.membership_create(institution=world.clinic, alliance=world.alliance_b, valid_from=D(2030, 1, 1))
    assert excinfo.value.code == "village_clinic"


def test_change_of_lead_keeps_the_old_lead_as_member(world):
    second_hospital = InstitutionFactory(county=world.yn, name="县第二人民医院", kind=Institution.Kind.COUNTY_GENERAL_HOSPITAL)
    services.alliance_change_lead(alliance=world.alliance_a, new_lead=second_hospital, on=D(2026, 1, 1))
    on_day = {m.institution.name: m.role for m in selectors.alliance_members_on(alliance=world.alliance_a,
                                                                               on=D(2026, 1, 1))}
    assert on_day["县第二人民医院"] == LEAD and on_day["县人民医院"] == MEMBER
    before = {m.institution.name: m.role for m in selectors.alliance_members_on(alliance=world.alliance_a,
                                                                               on=D(2025, 12, 31))}
    assert before["县人民医院"] == LEAD and "县第二人民医院" not in before


def test_deactivating_an_alliance_ends_its_memberships(world):
    services.alliance_deactivate(alliance=world.alliance_b, last_day=D(2026, 3, 31))
    world.alliance_b.refresh_from_db()
    assert world.alliance_b.is_active is False
    assert members_on(world.alliance_b, D(2026, 3, 31)) == {"县中医院", "通门镇卫生院"}
    assert members_on(world.alliance_b, D(2026, 4, 1)) == set()


def test_deactivating_an_institution_ends_its_membership(world):
    services.institution_deactivate(institution=world.centre2, last_day=D(2026, 3, 31))
    world.centre2.refresh_from_db()
    assert world.centre2.is_active is False
    assert selectors.institution_alliance_on(institution=world.centre2, on=D(2026, 3, 31)) == world.alliance_a
    assert selectors.institution_alliance_on(institution=world.centre2, on=D(2026, 4, 1)) is None


def test_model_clean_runs_the_same_rules(world):
    m = AllianceMembership(institution=world.centre, alliance=world.alliance_b, valid_from=D(2025, 1, 1))
    with pytest.raises(ValidationError):
        m.full_clean()


# Rules in the database ------------------------------------------------------------------

def _rejected_by_database(**fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        AllianceMembership.objects.create(**fields)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_rejects_overlapping_membership(world):
    _rejected_by_database(institution=world.centre, alliance=world.alliance_b, valid_from=D(2025, 1, 1))
    _rejected_by_database(institution=world.centre, alliance=world.alliance_a, valid_from=D(2019, 1, 1),
                          valid_to=D(2020, 1, 1))


def test_database_rejects_two_leads(world):
    second_hospital = InstitutionFactory(county=world.yn, name="县第二人民医院", kind=Institution.Kind.COUNTY_GENERAL_HOSPITAL)
    _rejected_by_database(institution=second_hospital, alliance=world.alliance_a, role=LEAD, valid_from=D(2026, 1, 1))


def test_database_rejects_membership_across_counties(world):
    _rejected_by_database(institution=world.other_centre, alliance=world.alliance_a, valid_from=D(2030, 1, 1))


def test_database_rejects_end_before_start(world):
    newcomer = InstitutionFactory(county=world.yn)
    _rejected_by_database(institution=newcomer, alliance=world.alliance_a, valid_from=D(2026, 1, 1),
                          valid_to=D(2025, 1, 1))


def test_database_accepts_adjacent_memberships(world):
    newcomer = InstitutionFactory(county=world.yn)
    with transaction.atomic():
        AllianceMembership.objects.create(institution=newcomer, alliance=world.alliance_a, valid_from=D(2021, 1, 1),
                                          valid_to=D(2021, 12, 31))
        AllianceMembership.objects.create(institution=newcomer, alliance=world.alliance_b, valid_from=D(2022, 1, 1))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert newcomer.memberships.count() == 2


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the lead-coverage trigger is PostgreSQL's")
def test_database_rejects_members_without_lead_at_commit(world):
    lead = world.hospital.memberships.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        AllianceMembership.objects.filter(pk=lead.pk).update(valid_to=D(2025, 12, 31))
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    lead.refresh_from_db()
    assert lead.valid_to is None


def test_database_rejects_moving_a_member_institution_to_another_county(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Institution.objects.filter(pk=world.centre.pk).update(county=world.wy)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(world.alliance_a).objects.filter(pk=world.alliance_a.pk).update(county=world.wy)
    loner = InstitutionFactory(county=world.yn, name="县疾病预防控制中心", kind=Institution.Kind.CDC)
    Institution.objects.filter(pk=loner.pk).update(county=world.wy)  # no membership: allowed
    loner.refresh_from_db()
    assert loner.county == world.wy


def test_kind_change_that_breaks_a_rule_is_rejected(world):
    world.hospital.kind = Institution.Kind.TOWNSHIP_HEALTH_CENTRE
    with pytest.raises(ValidationError) as excinfo:
        world.hospital.full_clean()
    assert "kind" in excinfo.value.message_dict
    world.centre.kind = Institution.Kind.CDC
    with pytest.raises(ValidationError):
        world.centre.full_clean()  # a member that manages a village clinic
    world.centre2.kind = Institution.Kind.CENTRAL_HEALTH_CENTRE
    world.centre2.full_clean()  # a harmless change passes


def test_deactivating_an_alliance_keeps_history_that_has_begun(world):
    with pytest.raises(ValidationError) as excinfo:
        services.alliance_deactivate(alliance=world.alliance_b, last_day=D(2019, 12, 31))
    assert excinfo.value.code == "history_after_last_day"
    assert world.alliance_b.memberships.count() == 2
