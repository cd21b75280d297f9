"""The Content-Security-Policy header (django-csp) and the templates it relies on.

The browser walk (tests/test_browser_csp.py) shows the pages keep to the policy in Chromium; these
checks are cheap: the header is on every kind of response with a strict script-src, and no template
carries an inline script, an inline event handler, a javascript: URL, a <style> element or a
style="" attribute (all blocked by the policy).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# The API docs pages loosen style-src for themselves (config/api_urls.py); their template override
# keeps drf-spectacular's inline <style>.
STYLE_EXEMPT = {"drf_spectacular/redoc.html"}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_strict(response) -> None:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    policy = directives(header)
    assert policy["script-src"] == ["'self'"], header
    assert policy["style-src"] == ["'self'"], header
    assert policy["default-src"] == ["'self'"], header
    assert policy["object-src"] == ["'none'"], header
    assert policy["frame-ancestors"] == ["'none'"], header
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"], header
    assert policy["img-src"] == ["'self'", "data:"], header
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, header


@pytest.mark.django_db
def test_the_policy_is_on_every_page(world):
    anonymous = Client()
    assert_strict(anonymous.get(reverse("login")))
    assert_strict(anonymous.get("/no-such-page/"))  # the 404 page too

    client = Client()
    client.force_login(world.bureau_admin)
    for name in ("home", "tasks:ledger_list", "tasks:dashboard", "indicators:indicator_table",
                 "alliances:alliance_list", "reports:inbox"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert_strict(response)


@pytest.mark.django_db
def test_the_api_docs_and_browsable_api_loosen_styles_only(world):
    client = Client()
    client.force_login(world.bureau_admin)
    for path in ("/api/docs/", "/api/redoc/"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], path
        assert "'unsafe-inline'" in policy["style-src"], path
        assert b"<script>" not in response.content, f"{path} has an inline script"
    # Swagger UI's set-up script is a file of its own (the split view).
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
    # The browsable API's HTML allows inline styles (core/renderers.py); its JSON keeps the strict policy.
    browsable = client.get("/api/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200 and browsable["Content-Type"].startswith("text/html")
    policy = directives(browsable.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"] and "'unsafe-inline'" in policy["style-src"]
    as_json = client.get("/api/", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert_strict(as_json)


def test_no_template_has_inline_script_handler_or_style():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)
    style = re.compile(r"<style\b|\sstyle\s*=\s*[\"']", re.I)
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text(encoding="utf-8")
        for pattern, what in ((inline_script, "inline <script>"), (handler, "on*= handler"), (style, "inline style")):
            if what == "inline style" and name in STYLE_EXEMPT:
                continue
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line}: {what}: {match.group(0).strip()[:60]}")
        if "javascript:" in text.lower():
            found.append(f"{name}: javascript: URL")
    assert not found, "\n".join(found)
