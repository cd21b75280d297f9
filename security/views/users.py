"""Placeholder views (being written)."""

from django.http import Http404


def user_list(request, **kwargs):
    raise Http404


def user_export(request, **kwargs):
    raise Http404


def user_create(request, **kwargs):
    raise Http404


def user_import(request, **kwargs):
    raise Http404


def user_import_template(request, **kwargs):
    raise Http404


def user_import_confirm(request, **kwargs):
    raise Http404


def user_import_passwords(request, **kwargs):
    raise Http404


def user_detail(request, **kwargs):
    raise Http404


def user_edit(request, **kwargs):
    raise Http404


def user_deactivate(request, **kwargs):
    raise Http404


def user_reactivate(request, **kwargs):
    raise Http404


def user_reset_password(request, **kwargs):
    raise Http404


def user_unlock(request, **kwargs):
    raise Http404


def user_reset_two_factor(request, **kwargs):
    raise Http404


def grant_add(request, **kwargs):
    raise Http404


def grant_revoke(request, **kwargs):
    raise Http404
