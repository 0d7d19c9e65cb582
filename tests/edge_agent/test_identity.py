"""The installation's MQTT client id in the state directory."""

from __future__ import annotations

from pathlib import Path
import re

import pytest

from edge_agent.identity import load_or_create_client_id, read_client_id


def test_made_up_once_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert read_client_id(state) is None
    first = load_or_create_client_id(state, "tent-pi")
    assert re.fullmatch(r"rala-edge-tent-pi-[0-9a-f]{16}", first)
    assert load_or_create_client_id(state, "tent-pi") == first
    assert read_client_id(state) == first
    assert (state / "client_id").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in state.iterdir()] == ["client_id"]  # no temporary left
    # Another installation of the same node gets another id.
    assert load_or_create_client_id(tmp_path / "other", "tent-pi") != first


@pytest.mark.parametrize("content", ["", "with space\n", "x" * 200, "ünïcode"])
def test_an_unusable_file_is_replaced(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "client_id").write_text(content, encoding="utf-8")
    client_id = load_or_create_client_id(tmp_path, "n")
    assert client_id.startswith("rala-edge-n-")
    assert read_client_id(tmp_path) == client_id
    assert "client id" in caplog.text


def test_a_state_directory_that_cannot_be_written_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(NotADirectoryError):
        load_or_create_client_id(blocker / "state", "n")
