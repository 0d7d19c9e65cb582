"""Child process for the outbox SIGKILL test: appends readings until it is killed.

Usage: ``python outbox_writer.py DATABASE FIRST_COUNTER``. After ``append`` returns it
writes ``A <seq> <counter>`` (the reading's temperature is the counter), after
``mark_sent`` returns ``S <seq>``; each line is flushed before the next write starts, so
every reported line describes something the outbox already promised to keep.
"""

from datetime import UTC, datetime
from pathlib import Path
import sys

from edge_agent.outbox import Outbox
from edge_agent.sensors import Reading


def main() -> None:
    """Append, acknowledge and prune in a loop, forever."""
    path = Path(sys.argv[1])
    counter = int(sys.argv[2])
    with Outbox(path) as outbox:
        while True:
            stored = outbox.append(
                Reading(
                    sensor="canopy" if counter % 2 else "roots",
                    temperature=float(counter),
                    humidity=55.5,
                    pressure=1012.25,
                    measured_at=datetime.now(UTC),
                )
            )
            sys.stdout.write(f"A {stored.seq} {counter}\n")
            sys.stdout.flush()
            if counter % 3 == 0:
                outbox.mark_sent([stored.seq])
                sys.stdout.write(f"S {stored.seq}\n")
                sys.stdout.flush()
            if counter % 50 == 0:
                outbox.prune()
            counter += 1


if __name__ == "__main__":
    main()
