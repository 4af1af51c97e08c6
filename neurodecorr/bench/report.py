"""Presenting benchmark results: a terminal table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

#: columns shown in the terminal, in order, when a case reports them
COLUMNS = ("device", "n", "batch", "rel_error", "converged", "offdiag_corr_rms_before",
           "offdiag_corr_rms_linear", "offdiag_corr_rms_recurrent", "samples_per_s",
           "gemm_fraction", "speedup_vs_solve_ivp", "speedup_vs_lava", "device_overhead",
           "cost_exponent")


#: short headers, so that the table fits a terminal; the JSON keeps the full names
HEADERS = {"rel_error": "rel err", "converged": "settled", "offdiag_corr_rms_before": "corr in",
           "offdiag_corr_rms_linear": "corr lin", "offdiag_corr_rms_recurrent": "corr rec",
           "samples_per_s": "samples/s", "gemm_fraction": "gemm frac",
           "speedup_vs_solve_ivp": "×solve_ivp", "speedup_vs_lava": "×lava",
           "device_overhead": "dev overhead", "cost_exponent": "exponent"}


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_table(result: dict[str, Any], console: Console | None = None) -> None:
    """One row per case, one column per metric that any case reports."""
    console = console or Console()
    cols = [c for c in COLUMNS if any(c in case for case in result["cases"])]
    table = Table(title=f"neurodecorr bench: {result['scenario']} "
                        f"(reference on {result['reference_device']})")
    table.add_column("case")
    for c in cols:
        table.add_column(HEADERS.get(c, c), justify="right")
    for case in result["cases"]:
        table.add_row(case["name"], *[_fmt(case.get(c)) for c in cols])
    console.print(table)
    for case in result["cases"]:
        if "error" in case:
            console.print(f"[yellow]{case['name']}[/yellow]: refused: {case['error']}")
