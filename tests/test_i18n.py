"""The interface is Chinese through Django i18n: the catalogue is complete and compiled."""

from pathlib import Path

import polib
from django.conf import settings
from django.utils import translation

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def test_every_message_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(PO))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, f"{len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"
    assert len(catalogue.translated_entries()) > 100


def test_compiled_catalogue_matches_the_po_file():
    po = {(e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
          for e in polib.pofile(str(PO)).translated_entries()}
    mo = {(e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
          for e in polib.mofile(str(MO)) if e.msgid}
    assert po == mo, "run `make messages` to recompile locale/zh_Hans/LC_MESSAGES/django.mo"


def test_chinese_is_the_default_language():
    assert settings.LANGUAGE_CODE == "zh-hans"
    with translation.override("zh-hans"):
        assert translation.gettext("Alliance office") == "医共体办公室"
        assert translation.gettext("Lead institution") == "牵头单位"


def test_pages_are_chinese_whatever_the_browser_asks_and_english_on_request(world, as_user):
    client = as_user(world.bureau)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "退出" in page and "Log out" not in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/").content.decode()
    assert "Log out" in page
