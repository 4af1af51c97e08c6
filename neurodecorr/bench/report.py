"""Presenting benchmark results: a terminal table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: columns shown in the terminal, in order, when a case reports them
COLUMNS = ("device", "n", "batch", "rel_error", "converged", "offdiag_corr_rms_before",
           "offdiag_corr_rms_linear", "offdiag_corr_rms_recurrent", "samples_per_s",
           "gemm_fraction", "speedup_vs_solve_ivp", "speedup_vs_lava",
           "speedup_vs_lava_one_core_each", "speedup_vs_lava_all_cores",
           "device_overhead", "chip_overhead", "engine_fraction_of_matmul",
           "reference_fraction_of_matmul", "cost_exponent")


#: short headers, so that the table fits a terminal; the JSON keeps the full names
HEADERS = {"rel_error": "rel err", "converged": "settled", "offdiag_corr_rms_before": "corr in",
           "offdiag_corr_rms_linear": "corr lin", "offdiag_corr_rms_recurrent": "corr rec",
           "samples_per_s": "samples/s", "gemm_fraction": "gemm frac",
           "speedup_vs_solve_ivp": "×solve_ivp", "speedup_vs_lava": "×lava",
           "speedup_vs_lava_one_core_each": "×lava 1 core each",
           "speedup_vs_lava_all_cores": "×lava all cores",
           "device_overhead": "dev overhead", "chip_overhead": "chip overhead",
           "engine_fraction_of_matmul": "engine/matmul",
           "reference_fraction_of_matmul": "ref/matmul",
           "cost_exponent": "exponent"}


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_table(result: dict[str, Any], console: Console | None = None) -> None:
    """One row per case, one column per metric that any case reports.

    The table fits the console's width: when the metric columns do not fit side by side, they
    are split over several tables, each led by the case names.
    """
    console = console or Console()
    cols = [c for c in COLUMNS if any(c in case for case in result["cases"])]
    cells = {c: [_fmt(case.get(c)) for case in result["cases"]] for c in cols}
    names = [case["name"] for case in result["cases"]]
    title = f"neurodecorr bench: {result['scenario']} (reference on {result['reference_device']})"
    for part, group in enumerate(_split(cols, cells, names, console.width)):
        table = Table(title=title if part == 0 else None)
        table.add_column("case")
        for c in group:
            table.add_column(HEADERS.get(c, c), justify="right")
        for row, name in enumerate(names):
            table.add_row(name, *[cells[c][row] for c in group])
        console.print(table)
    for case in result["cases"]:
        if "error" in case:
            console.print(f"[yellow]{escape(case['name'])}[/yellow]: refused: "
                          f"{escape(case['error'])}")


def _split(cols: list[str], cells: dict[str, list[str]], names: list[str],
           width: int) -> list[list[str]]:
    """Groups of metric columns, in order, each of which fits ``width`` beside the case column.

    A rich table column takes its widest cell plus 3 characters (padding and border), and the
    table one more for its left border.
    """
    def need(texts) -> int:
        return max(len(t) for t in texts) + 3

    room = width - 1 - need(["case", *names])
    groups: list[list[str]] = [[]]
    used = 0
    for c in cols:
        w = need([HEADERS.get(c, c), *cells[c]])
        if groups[-1] and used + w > room:
            groups.append([])
            used = 0
        groups[-1].append(c)
        used += w
    return groups
