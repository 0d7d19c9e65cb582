"""What a release needs of the repository: one version everywhere, and its changelog entry.

The integration (HACS reads ``manifest.json``) and the agent (PyPI reads the package's
``__version__``) are released together, under one version and one tag.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import yaml

import edge_agent

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "custom_components" / "rala" / "manifest.json"
CHANGELOG = ROOT / "CHANGELOG.md"
SEMANTIC_VERSION = re.compile(r"\d+\.\d+\.\d+")


def test_the_integration_and_the_agent_carry_one_version() -> None:
    manifest_version = json.loads(MANIFEST.read_text(encoding="utf-8"))["version"]
    assert SEMANTIC_VERSION.fullmatch(manifest_version), manifest_version
    assert edge_agent.__version__ == manifest_version


def test_the_changelog_has_an_entry_and_a_link_for_the_version() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", text, re.MULTILINE)
    assert "## [Unreleased]" in text
    assert released, "no released version in the changelog"
    assert released[0][0] == edge_agent.__version__, "the newest entry is not this version"
    for version, _date in released:
        assert re.search(rf"^\[{re.escape(version)}\]: https://", text, re.MULTILINE), version


def _workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict), name
    return document


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_test_workflow_runs_the_readme_commands_on_the_readme_machine() -> None:
    """CI on GitHub is the README's two commands on Debian 12, as ``.ci/run`` is here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    job = _workflow("tests.yml")["jobs"]["tests"]
    assert job["container"] == "debian:12"
    commands = _runs(job)[1:]  # after the packages a bare Debian image lacks
    assert commands == ["scripts/setup", "scripts/test"]
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci_run[-2:] == commands
    for command in commands:
        assert f"\n{command} " in readme, f"{command} is not a README command"


def test_the_release_builds_what_the_wheel_check_checked() -> None:
    """The release job's wheel and sdist are those ``scripts/wheel-check`` installed and ran."""
    jobs = _workflow("release.yml")["jobs"]
    assert "scripts/wheel-check dist" in _runs(jobs["build"])
    assert (ROOT / "scripts" / "wheel-check").stat().st_mode & 0o111
    publish_steps = [step.get("uses", "") for step in jobs["publish"]["steps"]]
    assert any(uses.startswith("pypa/gh-action-pypi-publish@") for uses in publish_steps)
    assert jobs["publish"]["permissions"] == {"id-token": "write"}


def test_hassfest_and_hacs_validate_the_integration() -> None:
    jobs = _workflow("validate.yml")["jobs"]
    uses = {step.get("uses", "").split("@")[0] for job in jobs.values() for step in job["steps"]}
    assert {"home-assistant/actions/hassfest", "hacs/action"} <= uses
    hacs = next(step for step in jobs["hacs"]["steps"] if step.get("uses", "").startswith("hacs/"))
    assert hacs["with"]["category"] == "integration"
