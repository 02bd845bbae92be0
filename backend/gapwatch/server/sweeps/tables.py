"""A sweep's results table as a paper takes it: CSV, and LaTeX with booktabs.

Both are drawn from `SweepResults` alone (no database). LaTeX shows each number in percentage
points with one decimal, as `71.3 $\\pm$ 2.1` (mean ± half width of the 95% interval), and
the best of each column in bold, in the direction the metric's registry entry gives.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from gapwatch.server.summaries.schemas import Definition
from gapwatch.server.sweeps.schemas import ResultCell, SweepResults
from gapwatch.sweep_plan import format_value

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


# The direction that is better, after each metric's label.
_ARROWS = {True: "$\\uparrow$", False: "$\\downarrow$"}


def latex_escape(text: str) -> str:
    """`text` as LaTeX prints it literally."""
    return "".join(_LATEX_SPECIALS.get(char, char) for char in text)


def _chosen(results: SweepResults, metric_ids: Sequence[str] | None) -> list[Definition]:
    if metric_ids is None:
        return list(results.metrics)
    by_id = {m.id: m for m in results.metrics}
    return [by_id[i] for i in metric_ids if i in by_id]


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return repr(float(value))


def results_csv(results: SweepResults, metric_ids: Sequence[str] | None = None) -> str:
    """One row per configuration: its axis values, runs and seeds, then `<metric>_mean`,
    `<metric>_ci95` (half width) and `<metric>_n` per metric, in the metric's own unit
    (fractions: 0.713 is 71.3 points), and whether a run of the row has not ended."""
    metrics = _chosen(results, metric_ids)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = [*results.axes, "runs", "run_ids", "seeds"]
    for m in metrics:
        header += [f"{m.id}_mean", f"{m.id}_ci95", f"{m.id}_n"]
    writer.writerow([*header, "provisional"])
    for row in results.rows:
        line = [format_value(row.config.get(axis)) for axis in results.axes]
        line += [
            str(len(row.run_ids)),
            " ".join(map(str, row.run_ids)),
            " ".join(map(str, row.seeds)),
        ]
        for m in metrics:
            cell = row.cells[m.id]
            line += [_number(cell.mean), _number(cell.ci95), str(cell.n)]
        provisional = any(cell.provisional for cell in row.cells.values())
        writer.writerow([*line, "true" if provisional else "false"])
    return out.getvalue()


def _points(value: float) -> str:
    """A fraction in percentage points, one decimal; a minus sign as LaTeX sets one."""
    text = f"{value * 100:.1f}"
    if text == "-0.0":
        text = "0.0"
    return f"$-${text[1:]}" if text.startswith("-") else text


def _shown(cell: ResultCell) -> float | None:
    """The mean as the table rounds it (so that ties at that precision are both bold)."""
    return None if cell.mean is None else round(cell.mean * 100, 1)


def results_latex(
    results: SweepResults, sweep_name: str, metric_ids: Sequence[str] | None = None
) -> str:
    """A `table` with a booktabs `tabular`: one column per axis (but seed), n (the runs that
    contribute), then each metric's mean ± 95% CI in percentage points; the best of each
    column in bold; rows with a run not ended yet marked with a dagger."""
    metrics = _chosen(results, metric_ids)
    best: dict[str, float] = {}
    for m in metrics:
        shown = [v for row in results.rows if (v := _shown(row.cells[m.id])) is not None]
        if len(shown) >= 2:
            best[m.id] = max(shown) if m.higher_is_better else min(shown)
    columns = "l" * len(results.axes) + "r" + "r" * len(metrics)
    heads = [latex_escape(axis) for axis in results.axes] + ["$n$"]
    heads += [f"{latex_escape(m.label)} {_ARROWS[m.higher_is_better]}" for m in metrics]
    lines = [
        f"% {sweep_name.replace(chr(10), ' ')}: mean ± 95% CI over seeds, in percentage points.",
        "% Needs \\usepackage{booktabs}.",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_escape(sweep_name)}: mean $\\pm$ 95\\% confidence interval over "
        "seeds, in percentage points; $n$ runs; best in bold.}",
        f"\\begin{{tabular}}{{{columns}}}",
        "\\toprule",
        " & ".join(heads) + " \\\\",
        "\\midrule",
    ]
    provisional_rows = False
    for row in results.rows:
        n = max((cell.n for cell in row.cells.values()), default=0)
        provisional = any(cell.provisional for cell in row.cells.values())
        provisional_rows |= provisional
        cells = [latex_escape(format_value(row.config.get(axis))) for axis in results.axes]
        cells.append(f"{n}$^\\dagger$" if provisional else str(n))
        for m in metrics:
            cell = row.cells[m.id]
            if cell.mean is None:
                cells.append("--")
                continue
            text = _points(cell.mean)
            if cell.ci95 is not None:
                text += f" $\\pm$ {_points(cell.ci95)}"
            if cell.n != n:
                text += f" ($n{{=}}{cell.n}$)"
            if m.id in best and _shown(cell) == best[m.id]:
                text = f"\\textbf{{{text}}}"
            cells.append(text)
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if provisional_rows:
        lines.append("\\par\\footnotesize{$^\\dagger$ some runs had not ended yet.}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"
