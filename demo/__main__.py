"""``scripts/demo``: bring up the demo stack, print where to log in, wait for Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import signal
import sys

from .stack import ROOT, TENTS, DemoOptions, DemoStack

WORKDIR = ROOT / ".demo"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=(
            "Run Home Assistant (the newest release) with the RALA integration, a local "
            "mosquitto and simulated RALA nodes, all on 127.0.0.1. The node is discovered, "
            "its grow zone created and a RALA dashboard added; log in with the printed "
            "user. Ctrl-C stops everything."
        ),
    )
    parser.add_argument(
        "--tents",
        type=int,
        default=1,
        choices=range(1, len(TENTS) + 1),
        help="number of simulated tents, one RALA node each (default: 1)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="how many times faster than real time the tents run (default: 10)",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="write screenshots of every dashboard view (390x844) to DIR, then stop",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=WORKDIR,
        help="directory of the run, wiped first (default: .demo in the checkout)",
    )
    return parser


def _say(message: str) -> None:
    print(f"demo: {message}", flush=True)


async def _run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    options = DemoOptions(workdir=args.workdir.resolve(), tents=args.tents, speed=args.speed)
    stack = DemoStack(options, log=_say)
    starting = asyncio.create_task(stack.__aenter__())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        _say("stopping")
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        return 130
    stopped.cancel()
    try:
        starting.result()
    except Exception as err:  # noqa: BLE001 - reported, the stack is already stopped
        _say(f"failed: {err}")
        return 1
    try:
        assert stack.ready_after is not None
        _say(f"ready in {stack.ready_after:.0f} s")
        if args.screenshots is not None:
            from .dashboard_check import check_dashboard  # noqa: PLC0415 - only here

            report = await check_dashboard(stack, screenshots=args.screenshots.resolve())
            for path in report.screenshots:
                _say(f"screenshot {path}")
            for problem in report.problems:
                _say(f"problem: {problem}")
            return 1 if report.problems else 0
        print(
            f"\n  RALA demo: {stack.dashboard_url}\n"
            f"  login:     {stack.login.username} / {stack.login.password}\n"
            f"  Home Assistant {stack.hass_version} with {len(stack.nodes)} simulated "
            f"tent(s); logs in {options.workdir}\n\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        failure = asyncio.create_task(stack.wait_for_failure())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([failure, stopped], return_when=asyncio.FIRST_COMPLETED)
        if failure.done():
            _say(failure.result())
            return 1
        failure.cancel()
        return 0
    finally:
        _say("stopping")
        await stack.stop()
        _say("stopped")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; the exit code."""
    args = build_parser().parse_args(argv)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
