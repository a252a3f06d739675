"""The ``codesign`` command line: parse, then call the public API only.

Each sub-command lives in ``codesign/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable
``(args) -> int``.  Commands import heavy libraries (torch) lazily, inside ``func``,
so that ``codesign estimate`` and ``codesign devices`` start fast.

Bad input (README, "Bad input") ends every command the same way: one line on stderr,
``codesign <command>: error: <field>: <what is wrong> (accepted: ...)``, and exit code 2, whether
argparse refuses the command line (:class:`Parser`) or the command raises
:class:`~fpga.errors.InputError`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any, NoReturn

from fpga.errors import InputError, one_line

#: sub-command modules, in the order ``codesign --help`` lists them
COMMANDS = ("devices", "estimate", "fold", "search", "export", "calibrate", "latency", "compare",
            "report")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``PROG: error: MESSAGE (see PROG --help)``
    and exit code 2 (argparse's own prints the whole usage first).  Sub-parsers made with
    ``add_subparsers`` are of this class too, so every sub-command's errors are one line."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, message)

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", Parser)
        return super().add_subparsers(**kwargs)

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        # unknown arguments are found by the top-level parser; name the sub-command they went to
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            fail(f"{self.prog} {command_name(ns)}".strip(),
                 f"unrecognized arguments: {' '.join(extras)}")
        return ns


def fail(prog: str, message: str) -> NoReturn:
    """The one-line argparse error and exit code 2."""
    sys.stderr.write(f"{prog}: error: {one_line(message)} (see {prog} --help)\n")
    sys.exit(2)


def command_name(args: argparse.Namespace) -> str:
    """``fold``, ``latency build``...: the sub-command path of parsed ``args``."""
    return " ".join(str(v) for v in (getattr(args, "command", None),
                                     getattr(args, "latency_command", None)) if v)


def float_arg(text: str) -> float:
    """argparse ``type`` for a float option whose error messages echo the value as typed
    (``--target-fps 1e12``, not ``1000000000000``): a float that keeps ``.text``."""
    return GivenFloat(text)


float_arg.__name__ = "float"  # argparse says "invalid float value: 'x'"


class GivenFloat(float):
    """A float that remembers the text it was parsed from (see :func:`given`)."""

    text: str

    def __new__(cls, text: str) -> "GivenFloat":
        v = super().__new__(cls, text)
        v.text = str(text).strip()
        return v


def given(value: float | None) -> str:
    """How the user wrote ``value``: its text for a :class:`GivenFloat`, else ``{value:g}``."""
    return getattr(value, "text", None) or f"{value:g}"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="codesign",
        description="Joint search over network architecture, per-layer bit widths and FPGA folding.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"codesign.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    # torch logs "No CUDA runtime is found" when brevitas imports it on a machine without a GPU:
    # not the user's concern, and it would make a bad-input message two lines
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    name = command_name(args)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"codesign {name}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file the checks did not foresee: still one line, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"codesign {name}: error: {where}{exc.strerror or one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"codesign {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
