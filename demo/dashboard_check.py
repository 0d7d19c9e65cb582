"""The browser check: the RALA dashboard at phone size in Debian's chromium.

Playwright drives the system's chromium (``executable_path``; playwright's own browser
downloads are never used). A dashboard passes when no card shows an error or a warning,
every entity the generated configuration names exists and is not unavailable, the page
logs no JavaScript error, and Home Assistant logged no warning or error about RALA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import re
from typing import Any

from playwright.async_api import ConsoleMessage, Error, Page, ViewportSize, async_playwright

from .stack import DASHBOARD_URL_PATH, DemoStack

CHROMIUM = "/usr/bin/chromium"
# Keep chromium off the network it cannot reach, and headless without a sandbox (root).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
SETTLE_MS = 4000
# Home Assistant warns about every custom integration it loads; that line is expected.
EXPECTED_LOG_LINES = (re.compile(r"We found a custom integration rala which has not been tested"),)
RALA_LOG_LINE = re.compile(
    r"^\S+ \S+ (WARNING|ERROR|CRITICAL) .*(custom_components\.rala|\brala\b)"
)

# Every card of the shown view, searched through the shadow roots, and the entities the
# view's configuration names.
_PAGE_REPORT = """
() => {
  const found = {errors: [], warnings: [], configs: []};
  const walk = (root) => {
    for (const element of root.querySelectorAll("*")) {
      const tag = element.localName;
      const text = () => element.innerText || element.shadowRoot?.textContent || tag;
      if (tag === "hui-error-card") found.errors.push(text());
      if (tag === "hui-warning") found.warnings.push(text());
      if (tag.startsWith("hui-") && element._config) found.configs.push(element._config);
      if (element.shadowRoot) walk(element.shadowRoot);
    }
  };
  walk(document);
  const home = document.querySelector("home-assistant");
  const hass = home?.hass;
  let panel = home?.shadowRoot?.querySelector("home-assistant-main")?.shadowRoot
    ?.querySelector("ha-panel-lovelace");
  const lovelace = panel?.lovelace;
  return {
    errors: found.errors,
    warnings: found.warnings,
    config: lovelace?.config ?? null,
    cards: JSON.parse(JSON.stringify(found.configs)),
    states: Object.fromEntries(
      Object.entries(hass?.states ?? {}).map(([id, state]) => [id, state.state])
    ),
  };
}
"""


@dataclass
class CheckReport:
    """What the check found; ``problems`` is empty when the dashboard passes."""

    problems: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    views: list[str] = field(default_factory=list)


def referenced_entities(value: Any) -> set[str]:
    """Every entity id a dashboard configuration names (cards, badges, features)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_entities(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key in ("entity", "entity_id") and isinstance(inner, str):
                found.add(inner)
            elif key == "entities" and isinstance(inner, list):
                for item in inner:
                    if isinstance(item, str):
                        found.add(item)
                    else:
                        found |= referenced_entities(item)
            else:
                found |= referenced_entities(inner)
    return found


def log_problems(logs: list[Path]) -> list[str]:
    """Warnings and errors Home Assistant logged about RALA."""
    return [
        f"log: {line[:300]}"
        for log in logs
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if RALA_LOG_LINE.search(line) and not any(p.search(line) for p in EXPECTED_LOG_LINES)
    ]


async def _log_in(page: Page, url: str, username: str, password: str) -> None:
    await page.goto(url)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}*", timeout=60_000)


async def check_dashboard(
    stack: DemoStack,
    *,
    screenshots: Path | None = None,
    url_path: str = DASHBOARD_URL_PATH,
    check_log: bool = True,
) -> CheckReport:
    """Open every view of the dashboard at ``url_path`` at phone size and check it."""
    report = CheckReport()
    base = f"{stack.url}/{url_path}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport=PHONE, device_scale_factor=2)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    report.problems.append(f"console: {message.text[:300]}")

            def on_page_error(error: Error) -> None:
                report.problems.append(f"page error: {error}")

            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            await _log_in(page, base, stack.login.username, stack.login.password)
            await page.wait_for_timeout(SETTLE_MS)
            first = await page.evaluate(_PAGE_REPORT)
            config = first["config"] or {}
            paths = [view.get("path") for view in config.get("views", [])] or [None]
            for index, path in enumerate(paths):
                view_url = f"{base}/{path if path is not None else index}"
                await page.goto(view_url)
                await page.wait_for_timeout(SETTLE_MS)
                found = await page.evaluate(_PAGE_REPORT)
                name = str(path or index)
                report.views.append(name)
                report.problems += [f"{name}: error card: {text[:200]}" for text in found["errors"]]
                report.problems += [f"{name}: warning: {text[:200]}" for text in found["warnings"]]
                states: dict[str, str] = found["states"]
                # What the rendered cards and badges were configured with (a view strategy's
                # cards exist only there, not in the dashboard's configuration).
                named = referenced_entities(found["cards"])
                if not named:
                    report.problems.append(f"{name}: no card names an entity")
                for entity_id in sorted(named):
                    if entity_id not in states:
                        report.problems.append(f"{name}: missing entity {entity_id}")
                    elif states[entity_id] == "unavailable":
                        report.problems.append(f"{name}: unavailable entity {entity_id}")
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    target = screenshots / f"{url_path}-{name}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    report.screenshots.append(target)
        finally:
            await browser.close()
    if check_log:
        report.problems += log_problems(stack.hass_logs())
    return report
