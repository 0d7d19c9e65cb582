"""The reliability report: figures lines in, markdown out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.report import RunInfo, key_words, main, parse_lines, render

RUN = RunInfo(
    machine="Linux 6.1 x86_64",
    python="3.14.2",
    home_assistant="2026.10.4",
    commit="abc1234",
    date="2026-12-04T04:00:00Z",
)


def _lines(*figures: dict[str, object]) -> list[str]:
    return [json.dumps(line) for line in figures]


def test_one_table_per_suite_with_the_run_on_top() -> None:
    """Known suites get their heading and worded columns, in the report's order."""
    figures = parse_lines(
        _lines(
            {
                "suite": "database",
                "long": True,
                "database": "postgresql",
                "readings": 192,
                "hours_imported": 24,
                "readings_lost": 0,
                "readings_duplicated": 0,
            },
            {
                "suite": "agent-kills",
                "long": True,
                "kills": 50,
                "tracebacks": 0,
                "worst_time_to_safe_s": 1.25,
            },
            {
                "suite": "database",
                "long": True,
                "database": "mariadb",
                "readings": 192,
                "hours_imported": 24,
                "readings_lost": 0,
                "readings_duplicated": 0,
            },
        )
    )
    assert render(figures, RUN) == (
        "# Reliability\n"
        "\n"
        "Made by `scripts/reliability` from the figures the reliability suites measured in\n"
        "one run; not edited by hand. Each row is one run of a suite's test.\n"
        "\n"
        "| Machine | Python | Home Assistant | Commit | Date |\n"
        "|---|---|---|---|---|\n"
        "| Linux 6.1 x86_64 | 3.14.2 | 2026.10.4 | abc1234 | 2026-12-04T04:00:00Z |\n"
        "\n"
        "## Edge agent: killed at random moments\n"
        "\n"
        "Suite `agent-kills`, run long.\n"
        "\n"
        "| Kills | Tracebacks | Worst time to safe state (s) |\n"
        "|---|---|---|\n"
        "| 50 | 0 | 1.25 |\n"
        "\n"
        "## Backfill import on PostgreSQL and MariaDB\n"
        "\n"
        "Suite `database`, run long.\n"
        "\n"
        "| Database | Readings sent | Hours imported | Readings lost | Readings duplicated |\n"
        "|---|---|---|---|---|\n"
        "| postgresql | 192 | 24 | 0 | 0 |\n"
        "| mariadb | 192 | 24 | 0 | 0 |\n"
    )


def test_unknown_suites_and_keys_are_put_in_words() -> None:
    """A suite or key the renderer does not know still reads as words, after known ones."""
    figures = parse_lines(
        _lines(
            {
                "suite": "zz-new-suite",
                "long": False,
                "median_latency_ms": 12.5,
                "messages_sent": 10,
                "odd|value": "a|b",
            },
            {"suite": "outages", "long": False, "outages": 3, "readings_lost": 0},
        )
    )
    report = render(figures, RUN)
    assert report.index("## Home Assistant: broker and node outages") < report.index(
        "## Zz new suite"
    )
    assert "Suite `zz-new-suite`, run short." in report
    assert "| Messages sent | Median latency (ms) | Odd\\|value |" in report
    assert "| 10 | 12.5 | a\\|b |" in report
    assert key_words("time_to_safe_s") == "Time to safe (s)"
    assert key_words("worst_time_to_safe_s") == "Worst time to safe state (s)"


def test_mixed_lengths_floats_and_missing_cells() -> None:
    """A suite with a short row is not called long; absent figures show a dash."""
    figures = parse_lines(
        _lines(
            {"suite": "ha-restart", "long": True, "restarts": 5, "worst_time_to_safe_s": 0.5},
            {
                "suite": "ha-restart",
                "long": False,
                "restarts": 2,
                "worst_time_to_safe_s": 2.0,
                "actuator_changes": 1,
            },
        )
    )
    report = render(figures, RUN)
    assert "Suite `ha-restart`, run short." in report
    assert "| Restarts | Actuator changes | Worst time to safe state (s) |" in report
    assert "| 5 | - | 0.5 |" in report
    assert "| 2 | 1 | 2 |" in report


def test_no_figures_says_so() -> None:
    """An empty run is reported as such, not as an empty page."""
    assert render(parse_lines(["", "  "]), RUN).endswith(
        "\nNo suite recorded figures in this run.\n"
    )


def test_a_line_without_suite_is_refused() -> None:
    """Figures of an unnamed suite are an error, not a silent row."""
    with pytest.raises(ValueError, match="line 2 names no suite"):
        parse_lines(['{"suite": "database"}', '{"readings": 3}'])


def test_main_writes_the_report(tmp_path: Path) -> None:
    """The command reads the figures file and writes markdown with the given commit."""
    figures = tmp_path / "figures.jsonl"
    figures.write_text('{"suite": "database", "long": true, "readings": 8}\n', encoding="utf-8")
    output = tmp_path / "reliability.md"
    main([str(figures), str(output), "--commit", "abc1234", "--date", "2026-12-04"])
    report = output.read_text(encoding="utf-8")
    assert "| abc1234 | 2026-12-04 |" in report
    assert "| Readings sent |\n|---|\n| 8 |" in report
