"""The checker's rules on their own: which log lines fail the check, which entities count."""

from pathlib import Path

from demo.dashboard_check import log_problems, referenced_entities

LOG_LINES = [
    (
        "2026-12-03 14:46:19.355 WARNING (SyncWorker_0) [homeassistant.loader] We found a "
        "custom integration rala which has not been tested by Home Assistant. This "
        "component might cause stability problems, be sure to disable it if you "
        "experience issues with Home Assistant"
    ),
    (
        "2026-12-03 14:46:19.749 ERROR (MainThread) [haffmpeg.core] FFmpeg fails [Errno "
        "2] No such file or directory: 'ffmpeg'"
    ),
    ("2026-12-03 14:46:20.001 INFO (MainThread) [custom_components.rala] Zone Flower tent set up"),
    (
        "2026-12-03 14:46:21.002 WARNING (MainThread) [custom_components.rala.climate] "
        "Heater did not report its state"
    ),
    (
        "2026-12-03 14:46:22.003 WARNING (MainThread) [homeassistant.helpers.frame] "
        "Detected that custom integration 'rala' calls a deprecated helper. This will "
        "stop working in Home Assistant 2027.6"
    ),
    (
        "2026-12-03 14:46:23.004 ERROR (MainThread) "
        "[homeassistant.components.mqtt.discovery] Invalid discovery payload on "
        "rala/flower-tent/node"
    ),
    "Traceback (most recent call last):",
    '  File "/config/custom_components/rala/zone.py", line 1, in <module>',
]
LOG = "\n".join(LOG_LINES) + "\n"


def test_warnings_and_errors_about_rala_fail_the_check(tmp_path: Path) -> None:
    """RALA's own loggers, deprecations naming it, and its topics; not the expected line."""
    log = tmp_path / "home-assistant.log"
    log.write_text(LOG, encoding="utf-8")
    problems = log_problems([log])
    assert len(problems) == 3, problems
    assert "custom_components.rala.climate" in problems[0]
    assert "deprecated helper" in problems[1]
    assert "rala/flower-tent/node" in problems[2]


def test_every_entity_the_config_names_is_collected() -> None:
    """Cards, rows given as strings or objects, badges and nested features."""
    config = {
        "views": [
            {
                "badges": [{"type": "entity", "entity": "sensor.a"}],
                "sections": [
                    {
                        "cards": [
                            {"type": "entities", "entities": ["sensor.b", {"entity": "switch.c"}]},
                            {"type": "tile", "entity": "climate.d", "features": [{"type": "x"}]},
                            {"type": "button", "tap_action": {"target": {"entity_id": "light.e"}}},
                        ]
                    }
                ],
            }
        ]
    }
    assert referenced_entities(config) == {
        "sensor.a",
        "sensor.b",
        "switch.c",
        "climate.d",
        "light.e",
    }
