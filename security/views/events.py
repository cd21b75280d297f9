"""Placeholder views (being written)."""

from django.http import Http404


def event_list(request, **kwargs):
    raise Http404


def event_export(request, **kwargs):
    raise Http404


def event_detail(request, **kwargs):
    raise Http404
