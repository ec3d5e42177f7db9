"""The ``feasibility`` command line: one sub-command per module in ``feasibility.commands``.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func`` (called with the parsed namespace, returning an exit code). Input errors
(:class:`~feasibility.errors.FeasibilityError`) print as one readable line and exit 2,
never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

import polars as pl

from feasibility import __version__
from feasibility.errors import FeasibilityError

COMMANDS = ("synth", "screen", "validate", "report")
#: Marks the last-resort message for data or file errors no check named.
UNEXPECTED = "unexpected data or file error (please report it with the file involved)"


class UsageError(FeasibilityError):
    """A command-line option argparse refused (unknown, missing or malformed)."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a refused option raises :class:`UsageError` (printed as one
    line, exit 2) instead of printing the usage block and exiting; sub-parsers inherit it."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="feasibility",
        description=(
            "Trial feasibility from a de-identified patient registry: generate a synthetic "
            "registry, screen it against a protocol, validate data quality, write a report."
        ),
    )
    parser.add_argument("--version", action="version", version=f"feasibility {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"feasibility.commands.{name}")
        except ModuleNotFoundError as exc:  # a command still being built is simply absent
            if exc.name == f"feasibility.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        command = next((a for a in (argv or sys.argv[1:]) if a in COMMANDS), None)
        prog = f"feasibility {command}" if command else "feasibility"
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FeasibilityError as exc:
        print(f"feasibility {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except (pl.exceptions.PolarsError, OSError) as exc:
        # last resort: a data or file problem no check above named; one line, never a
        # traceback (the fuzz suite holds this path to zero on the damage it plants)
        detail = _one_line(str(exc).split("\n")[0]) or type(exc).__name__
        print(
            f"feasibility {args.command}: error: {UNEXPECTED}: {type(exc).__name__}: {detail}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
