"""factory_boy factories for the organisation tree and users."""

from __future__ import annotations

from datetime import date

import factory

from accounts.models import Grant, Role, User
from alliances.models import Alliance, AllianceMembership, Institution, Region

TEST_PASSWORD = "Test-pass-2026"


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{110000 + n * 10000:06d}")
    name = factory.Sequence(lambda n: f"测试省{n}")
    level = Region.Level.PROVINCE
    parent = None


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    county = None
    name = factory.Sequence(lambda n: f"测试机构{n}")
    kind = Institution.Kind.TOWNSHIP_HEALTH_CENTRE
    beds = 50
    service_population = 30000


class AllianceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alliance

    county = None
    name = factory.Sequence(lambda n: f"测试医共体{n}")
    established_on = date(2020, 1, 1)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AllianceMembership

    role = AllianceMembership.Role.MEMBER
    valid_from = date(2020, 1, 1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"测试用户{n}")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or TEST_PASSWORD)
        if create:
            self.save(update_fields=["password"])


def grant(user: User, role: str, scope) -> Grant:
    field = {"Region": "region", "Alliance": "alliance", "Institution": "institution"}[type(scope).__name__]
    return Grant.objects.create(user=user, role=role, **{field: scope})


__all__ = [
    "TEST_PASSWORD", "RegionFactory", "InstitutionFactory", "AllianceFactory", "MembershipFactory",
    "UserFactory", "grant", "Role",
]
