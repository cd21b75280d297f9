"""Placeholder views (being written)."""

from django.http import Http404


def county_create(request, **kwargs):
    raise Http404
