"""The ``codesign`` command line: parse, then call the public API only.

Each sub-command lives in ``codesign/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable
``(args) -> int``.  Commands import heavy libraries (torch) lazily, inside ``func``,
so that ``codesign estimate`` and ``codesign devices`` start fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from fpga.errors import InputError

#: sub-command modules, in the order ``codesign --help`` lists them
COMMANDS = ("devices", "estimate", "fold", "search", "export", "calibrate", "latency", "compare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codesign",
        description="Joint search over network architecture, per-layer bit widths and FPGA folding.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"codesign.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"codesign {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"codesign {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
