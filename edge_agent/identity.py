"""The node's MQTT client id: unique per installation, kept in the state directory.

A broker lets only one connection use a client id: whoever connects with it takes it over
and throws the earlier connection off. A client id derived from the node id alone
(``rala-edge-<node>``) could be taken over by anyone who can log in, so each
installation makes up its own once, ``rala-edge-<node>-<16 random hex digits>``, and keeps
it in the file ``client_id`` next to the outbox (the state directory, by default
``/var/lib/rala-edge``). Deleting the file gives the node a new one at the next start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
import re
import secrets
from typing import Final

_LOGGER = logging.getLogger(__name__)

CLIENT_ID_FILE_NAME: Final = "client_id"
#: What a client id file may hold: MQTT 5 allows any UTF-8, brokers like it plain.
_VALID: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_RANDOM_BYTES: Final = 8


def client_id_file(state_directory: Path) -> Path:
    """Where the client id of the installation with this state directory is kept."""
    return state_directory / CLIENT_ID_FILE_NAME


def new_client_id(node_id: str) -> str:
    """A fresh client id: the node id (readable in the broker's log) and a random part."""
    return f"rala-edge-{node_id}-{secrets.token_hex(_RANDOM_BYTES)}"


def read_client_id(state_directory: Path) -> str | None:
    """The installation's client id, or None when there is none (or it is unusable)."""
    path = client_id_file(state_directory)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        _LOGGER.warning("cannot read the client id from %s: %s", path, err)
        return None
    if not _VALID.fullmatch(text):
        _LOGGER.warning("ignoring the client id in %s: not [A-Za-z0-9_-]{1,128}", path)
        return None
    return text


def load_or_create_client_id(state_directory: Path, node_id: str) -> str:
    """The installation's client id, made up and stored on first use.

    The file is written atomically (a temporary file renamed into place), readable only
    by the agent's user. Raises OSError when the state directory is not writable.
    """
    existing = read_client_id(state_directory)
    if existing is not None:
        return existing
    client_id = new_client_id(node_id)
    state_directory.mkdir(parents=True, exist_ok=True)
    path = client_id_file(state_directory)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(client_id + "\n")
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _LOGGER.info("new MQTT client id %s (kept in %s)", client_id, path)
    return client_id
