"""What HACS and Home Assistant read before any code runs."""

import json
from pathlib import Path
import re

from edge_agent import __version__

ROOT = Path(__file__).parents[1]
INTEGRATION = ROOT / "custom_components" / "rala"

# https://hacs.xyz/docs/publish/start/#hacsjson
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}


def _load(path: Path) -> dict[str, object]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_is_valid_for_a_custom_integration() -> None:
    """Domain and name first, the rest sorted, and what a custom integration must declare."""
    manifest = _load(INTEGRATION / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == INTEGRATION.name
    assert {"version", "iot_class", "documentation", "issue_tracker", "codeowners"} <= set(keys)
    assert manifest["config_flow"] is True
    assert "mqtt" in manifest["dependencies"]  # type: ignore[operator]
    assert manifest["mqtt"] == ["rala/+/node"]
    assert manifest["integration_type"] in {"hub", "device", "service"}


def test_integration_and_agent_are_released_together() -> None:
    """One version for both halves: the node announcement carries it to the integration."""
    assert _load(INTEGRATION / "manifest.json")["version"] == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_hacs_json_only_uses_keys_hacs_accepts() -> None:
    """HACS rejects unknown keys; the minimum Home Assistant version is the one we test."""
    hacs = _load(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"] == _load(INTEGRATION / "manifest.json")["name"]
    assert hacs["homeassistant"] == "2026.10.0"


def test_english_translation_matches_strings() -> None:
    """A custom integration ships translations/en.json; it must not drift from strings.json."""
    assert _load(INTEGRATION / "translations" / "en.json") == _load(INTEGRATION / "strings.json")


def test_every_translation_has_the_english_keys() -> None:
    """No language misses a string, and none keeps one that English no longer has."""

    def keys(node: object, prefix: str = "") -> set[str]:
        if isinstance(node, dict):
            return {k for key, value in node.items() for k in keys(value, f"{prefix}{key}.")}
        return {prefix.rstrip(".")}

    english = keys(_load(INTEGRATION / "strings.json"))
    for path in sorted((INTEGRATION / "translations").glob("*.json")):
        assert keys(_load(path)) == english, path.name


# Strings that may read the same in every language (brand and product names).
KEEP_IN_ENGLISH = frozenset({"RALA Grow Climate"})
# What Home Assistant substitutes into a string: {placeholders} and [%key:...%] references.
SUBSTITUTIONS = re.compile(r"\{[A-Za-z0-9_]+\}|\[%key:[^%\]]+%\]")
LANGUAGES = ("de", "es", "fr", "nl")


def _strings(node: object, prefix: str = "") -> dict[str, str]:
    """Every string of a translation file by its dotted key."""
    if isinstance(node, dict):
        return {
            k: v
            for key, value in node.items()
            for k, v in _strings(value, f"{prefix}{key}.").items()
        }
    assert isinstance(node, str), prefix
    return {prefix.rstrip("."): node}


def test_the_promised_languages_are_shipped() -> None:
    """English plus German, Spanish, French and Dutch."""
    shipped = {path.stem for path in (INTEGRATION / "translations").glob("*.json")}
    assert shipped >= {"en", *LANGUAGES}


def test_translations_keep_every_placeholder_and_translate_the_sentences() -> None:
    """A lost {placeholder} breaks the message; a sentence left in English is untranslated."""
    english = _strings(_load(INTEGRATION / "strings.json"))
    for language in LANGUAGES:
        translated = _strings(_load(INTEGRATION / "translations" / f"{language}.json"))
        for key, source in english.items():
            text = translated[key]
            where = f"{language}: {key}"
            assert text.strip(), where
            assert sorted(SUBSTITUTIONS.findall(text)) == sorted(SUBSTITUTIONS.findall(source)), (
                where
            )
            if len(source.split()) > 3 and source not in KEEP_IN_ENGLISH:
                assert text != source, where
