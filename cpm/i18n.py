"""The language people read cpm in: English (the source) or Chinese, from standard gettext catalogs.

Texts are written in English in the code and marked with `_()` (or `ngettext` for counts, or
`N_()` in a table of labels translated where they are shown); the
Chinese catalog is `cpm/locale/zh/LC_MESSAGES/cpm.po`, compiled to `cpm.mo` beside it (`make
translations`; a test keeps the two in step). JSON and CSV keys are never translated.

The language is chosen once per run, first found wins: `--lang`, the environment variable
`CPM_LANG`, `language` in cpm.toml, the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`: `zh_*` → zh),
else English.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path

ENGLISH, CHINESE = "en", "zh"
LANGUAGES = (ENGLISH, CHINESE)
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "cpm"

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = ENGLISH


def parse_language(value: str) -> str | None:
    """`zh`, `zh_CN.UTF-8`, `zh-Hans`, `Chinese`, `中文` → zh; `en`, `en_US`, `English` → en; else None."""
    text = value.strip().casefold().replace("-", "_")
    if text in ("zh", "chinese", "中文", "汉语", "简体中文") or text.startswith("zh_"):
        return CHINESE
    if text in ("en", "english", "英文", "c", "posix") or text.startswith(("en_", "c.")):
        return ENGLISH
    return None


def language_of_locale(environ: Mapping[str, str]) -> str:
    """The language the locale asks for, as gettext reads it: the first of LC_ALL, LC_MESSAGES,
    LANG that is set; zh_* is Chinese, anything else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "").strip()
        if value:
            return CHINESE if parse_language(value.split(":")[0]) == CHINESE else ENGLISH
    return ENGLISH


def use(language: str) -> None:
    """Translate every later `_()` into `language` (en or zh)."""
    global _translation, _language
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    _language = language
    if language == ENGLISH:
        _translation = gettext.NullTranslations()
        return
    _translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)


def current() -> str:
    return _language


def _(message: str) -> str:
    """`message` in the language in use (itself when the catalog has no translation)."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _translation.ngettext(singular, plural, count)


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Marks a text for translation where it is defined (a table of labels); `_()` translates
    it where it is shown."""
    return message


def catalog_path(language: str = CHINESE, suffix: str = ".po") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def environment_language(environ: Mapping[str, str] | None = None) -> str | None:
    """CPM_LANG when it names a language; None when unset (an unknown value is the caller's error)."""
    value = (os.environ if environ is None else environ).get("CPM_LANG", "").strip()
    return value or None
