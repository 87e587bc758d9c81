"""The language cpm speaks: how it is chosen, and a Chinese catalog that is complete and compiled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from cpm import i18n
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "language"),
    [
        ("zh", "zh"),
        ("ZH", "zh"),
        ("zh_CN.UTF-8", "zh"),
        ("zh-Hans", "zh"),
        ("zh_TW", "zh"),
        ("中文", "zh"),
        ("Chinese", "zh"),
        ("en", "en"),
        ("en_GB.UTF-8", "en"),
        ("English", "en"),
        ("C", "en"),
        ("C.UTF-8", "en"),
        ("fr", None),
        ("", None),
        ("zhx", None),
    ],
)
def test_language_names(value: str, language: str | None) -> None:
    assert i18n.parse_language(value) == language


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "zh_CN"}, "zh"),
    ],
)
def test_the_locale_decides_when_nothing_else_does(environ: dict[str, str], language: str) -> None:
    assert i18n.language_of_locale(environ) == language


def _language_after(cli: Cli, *args: str) -> str:
    i18n.use(i18n.ENGLISH)
    result = cli(*args, "config", "show")
    assert result.exit_code == 0, result.output
    return i18n.current()


def test_lang_then_cpm_lang_then_cpm_toml_then_the_locale(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cpm.toml"
    config.write_text('language = "en"\n')
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert _language_after(cli) == "zh"
    assert _language_after(cli, "--config", str(config)) == "en"
    monkeypatch.setenv("CPM_LANG", "zh")
    assert _language_after(cli, "--config", str(config)) == "zh"
    assert _language_after(cli, "--config", str(config), "--lang", "en") == "en"


def test_an_unknown_language_is_a_usage_error_naming_the_option(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli("--lang", "fr", "config", "show")
    assert result.exit_code == 2
    assert "--lang" in result.output and "'fr' is not a language cpm speaks" in result.output
    monkeypatch.setenv("CPM_LANG", "klingon")
    result = cli("config", "show")
    assert result.exit_code == 2 and "'klingon'" in result.output


def test_a_bad_language_in_cpm_toml_is_refused_by_name(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "cpm.toml"
    config.write_text('language = "fr"\n')
    result = cli("--config", str(config), "config", "show")
    assert result.exit_code == 1
    assert 'key \'language\' must be "zh", "en" or ""' in result.output


def test_a_broken_cpm_toml_does_not_stop_config_init_from_replacing_it(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "cpm.toml"
    config.write_text("language = [\n")
    result = cli("--config", str(config), "config", "init", str(config), "--force")
    assert result.exit_code == 0, result.output
    assert 'language = ""' in config.read_text()


def _catalog() -> object:
    with i18n.catalog_path().open("rb") as handle:
        return read_po(handle, locale="zh")


def test_the_compiled_catalog_is_the_one_the_po_file_says() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog())  # type: ignore[arg-type]
    assert i18n.catalog_path(suffix=".mo").read_bytes() == compiled.getvalue(), "run `make translations`"


def test_every_text_marked_for_translation_has_a_chinese_translation() -> None:
    catalog = _catalog()
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog  # type: ignore[attr-defined]
        if message.id and (message.string if isinstance(message.string, str) else all(message.string))
    }
    marked = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            ROOT / "cpm",
            keywords={"_": None, "N_": None, "ngettext": (1, 2)},
            method_map=[("**.py", "python")],
        )
    }
    assert marked, "nothing is marked for translation"
    assert sorted(marked - translated) == []


def test_chinese_is_read_from_the_catalog() -> None:
    i18n.use(i18n.CHINESE)
    assert (i18n._("Regular"), i18n._("Diamond"), i18n._("pending")) == ("普通", "钻石", "待付款")
    i18n.use(i18n.ENGLISH)
    assert i18n._("Diamond") == "Diamond"
