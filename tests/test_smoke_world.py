from alliances import scoping
from alliances.models import Institution


def test_world_builds_and_outsider_sees_only_own_county(world):
    visible = set(scoping.queryset_for(world.outsider, Institution).values_list("name", flat=True))
    assert visible == {"市人民医院", "白沙镇分院"}
