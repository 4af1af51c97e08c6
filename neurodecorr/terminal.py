"""Text for a terminal: the width to fit, folded lines, and JSON listings on stdout."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

import click

from neurodecorr.io import json_bytes


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS`` first, as the shell sets it; 80 off a terminal)."""
    return shutil.get_terminal_size((80, 24)).columns


def fold(text: str, width: int, indent: int = 0, first: str = "") -> list[str]:
    """``first + text`` folded at word boundaries into lines of at most ``width`` characters;
    the continuation lines are indented by ``indent`` spaces."""
    lines = textwrap.wrap(str(text), width=max(width, indent + 20), initial_indent=first,
                          subsequent_indent=" " * indent, break_on_hyphens=False)
    return lines or [first.rstrip()]


def echo_json(obj: Any) -> None:
    """Print a listing as indented JSON (numpy values become plain numbers) on stdout."""
    click.echo(json_bytes(obj).decode(), nl=False)
