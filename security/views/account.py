"""Placeholder views (being written)."""

from django.http import Http404


def profile(request, **kwargs):
    raise Http404


def password_change(request, **kwargs):
    raise Http404


def two_factor(request, **kwargs):
    raise Http404


def recovery_codes(request, **kwargs):
    raise Http404


def token_list(request, **kwargs):
    raise Http404


def token_revoke(request, **kwargs):
    raise Http404
