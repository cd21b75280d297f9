"""The scoping module: what each grant lets a user see and change."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice, Region
from alliances.services import joint_office_create


def names(user, model, action="view"):
    return set(scoping.queryset_for(user, model, action).values_list("name", flat=True))


def test_bureau_sees_and_changes_its_county_only(world):
    assert names(world.bureau, Alliance) == {"第一医共体", "第三医共体"}
    assert names(world.bureau, Alliance, "change") == {"第一医共体", "第三医共体"}
    assert "市人民医院" not in names(world.bureau, Institution)
    assert names(world.bureau, Institution) == names(world.bureau, Institution, "change")
    assert names(world.bureau, Region) == {"郁南县", "云浮市", "广东省"}


def test_supervisor_and_county_viewer_read_only(world):
    assert names(world.supervisor, Alliance) == {"第一医共体", "第三医共体"}
    assert names(world.supervisor, Alliance, "change") == set()
    assert names(world.supervisor, Institution, "change") == set()
    assert scoping.scope_of(world.supervisor).read_only


def test_city_and_province_see_every_county_below_read_only(world):
    for user in (world.city, world.province):
        assert names(user, Alliance) == {"第一医共体", "第三医共体"}
        assert names(user, Alliance, "change") == set()
        assert names(user, Institution, "change") == set()
        assert "万源市医共体" not in names(user, Alliance)
    assert names(world.province, Region) >= {"广东省", "云浮市", "郁南县"}
    assert "四川省" not in names(world.province, Region)


def test_alliance_office_sees_its_alliance_and_members(world):
    assert names(world.alliance_admin, Alliance) == {"第一医共体"}
    assert names(world.alliance_admin, Institution) == {"县人民医院", "平台镇卫生院", "桂圩镇卫生院", "平台镇大村卫生站"}
    assert names(world.alliance_admin, Alliance, "change") == {"第一医共体"}
    assert scoping.queryset_for(world.alliance_admin, AllianceMembership, "change").count() == 0


def test_institution_user_sees_only_its_institution_and_clinics(world):
    assert names(world.filer, Institution) == {"平台镇卫生院", "平台镇大村卫生站"}
    assert names(world.filer, Alliance) == set()
    assert names(world.filer, Institution, "change") == set()
    history = scoping.queryset_for(world.filer, AllianceMembership)
    assert {m.institution_id for m in history} == {world.centre.pk}


def test_user_without_grants_sees_nothing_and_superuser_everything(world, django_user_model):
    assert names(world.nobody, Institution) == set()
    root = django_user_model.objects.create_superuser("root", "root@example.org", "x")
    assert names(root, Alliance) == {"第一医共体", "第三医共体", "万源市医共体"}


def test_grants_add_up(world):
    from accounts.models import Role
    from tests.factories import grant

    grant(world.filer, Role.VIEWER, world.alliance_b)
    scoping.forget_scope(world.filer)
    assert names(world.filer, Alliance) == {"第三医共体"}
    assert {"平台镇卫生院", "县中医院", "通门镇卫生院"} <= names(world.filer, Institution)


def test_get_for_user_gives_the_same_404_for_foreign_and_missing(world):
    with pytest.raises(Http404) as foreign:
        scoping.get_for_user(world.outsider, Alliance, world.alliance_a.pk)
    with pytest.raises(Http404) as missing:
        scoping.get_for_user(world.outsider, Alliance, 987654321)
    assert str(foreign.value) == str(missing.value)
    with pytest.raises(Http404):
        scoping.get_for_user(world.outsider, Alliance, "not-a-number")
    assert scoping.get_for_user(world.bureau, Alliance, world.alliance_a.pk) == world.alliance_a


def test_get_for_user_change_on_readable_object_is_permission_denied(world):
    with pytest.raises(PermissionDenied):
        scoping.get_for_user(world.city, Alliance, world.alliance_a.pk, "change")


def test_joint_office_visible_from_either_side(world):
    office = joint_office_create(first=world.centre2, second=world.hospital, note="两个牌子一套人马")
    assert scoping.queryset_for(world.bureau, JointOffice).get() == office
    assert scoping.queryset_for(world.outsider, JointOffice).count() == 0
    assert scoping.queryset_for(world.alliance_admin, JointOffice).count() == 1


def test_scope_is_built_with_a_constant_number_of_queries(world, django_assert_max_num_queries):
    user = type(world.province).objects.get(pk=world.province.pk)
    with django_assert_max_num_queries(2):
        scoping.scope_of(user)
    with django_assert_max_num_queries(0):
        scoping.scope_of(user)


def test_every_scoped_model_has_a_function():
    assert set(scoping.scoped_models()) >= {Region, Alliance, Institution, AllianceMembership, JointOffice}
    with pytest.raises(LookupError):
        scoping.queryset_for(None, type("Unscoped", (), {}))


def test_village_clinic_user_sees_the_membership_of_its_centre(world):
    from accounts.models import Role
    from tests.factories import UserFactory, grant

    clinic_user = UserFactory(username="clinic_doctor")
    grant(clinic_user, Role.INSTITUTION_FILER, world.clinic)
    memberships = scoping.queryset_for(clinic_user, AllianceMembership)
    assert [m.institution_id for m in memberships] == [world.centre.pk]
    assert names(clinic_user, Institution) == {"平台镇大村卫生站"}
