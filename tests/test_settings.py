"""The one settings module: environment variables, defaults, and their documentation."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from kernel.settings import Settings, get_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme():
    undocumented = [name for name in Settings.model_fields if f"`NEWSWIRE_{name.upper()}`" not in README]
    assert undocumented == []


def test_environment_variables_override_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSWIRE_SEARCH_URL", "https://search.example:9200")
    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "desk")
    monkeypatch.setenv("NEWSWIRE_ENABLED_SOURCES", '["tasnim", "spa"]')
    monkeypatch.setenv("NEWSWIRE_SEARCH_PASSWORD", "s3cret")
    settings = get_settings()
    assert settings.search_url == "https://search.example:9200"
    assert settings.archive == str(tmp_path / "archive")
    assert settings.processed == str(tmp_path / "processed")
    assert (settings.read_alias, settings.write_alias, settings.index_name(3)) == (
        "desk-articles", "desk-articles-write", "desk-articles-v3")
    assert settings.enabled_sources == ["tasnim", "spa"]
    assert isinstance(settings.search_password, SecretStr)
    assert "s3cret" not in repr(settings)


def test_archive_root_may_be_object_storage(monkeypatch):
    monkeypatch.setenv("NEWSWIRE_ARCHIVE_ROOT", "s3://newsroom-archive/newswire")
    assert get_settings().archive == "s3://newsroom-archive/newswire"
