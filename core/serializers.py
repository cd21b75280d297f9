"""Serializer fields the APIs of several apps share."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers


class NamedEnumField(serializers.ChoiceField):
    """A choice field whose choice set is an enum component of the given name in the schema.
    drf-spectacular names an enum after its field, and ``role`` and ``state`` name other choice
    sets already (alliance memberships; reports and orders), which it could only number."""

    def __init__(self, choices, *, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(choices, **kwargs)


class NamedEnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedEnumField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        component = ResolvedComponent(
            name=field.enum_name, type=ResolvedComponent.SCHEMA, object=field.enum_name,
            schema={"type": "string", "enum": list(field.choices),
                    "description": "\n".join(f"* `{value}` - {label}" for value, label in field.choices.items())})
        auto_schema.registry.register_on_missing(component)
        return component.ref


class UserRefSerializer(serializers.Serializer):
    """A person, as the portal names them."""

    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
