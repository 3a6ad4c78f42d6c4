"""What the Compare page shows of a `compare.Report` as text: the live table's formatted rows,
the distance bars' values and the page's description of the methods (the page arranges them;
`bnnlab.lessons.compare` computes them)."""

from __future__ import annotations

import math

from bnnlab import registry
from bnnlab.core import limits, verdict
from bnnlab.core.text import fmt
from bnnlab.lessons.compare import REFERENCE_METHOD, Comparison, Report, method_verdict


def _with_se(value: float, se: float) -> str:
    """A Monte Carlo estimate with its standard error, e.g. "0.245 ± 0.011"."""
    if not (isinstance(value, float) and math.isfinite(value)):
        return "—"
    return f"{value:.3f} ± {se:.3f}" if math.isfinite(se) and se > 0 else f"{value:.3f}"


def _best_acc(report: Report) -> float:
    return max((r.test_acc for r in report.rows.values()
                if not r.diverged and math.isfinite(r.test_acc)), default=math.nan)


def table_rows(report: Report, comparison: Comparison) -> list[dict[str, str]]:
    """The live table: one row of formatted figures per method."""
    rows = []
    for method, r in report.rows.items():
        rows.append({
            "method": registry.method_label(method),
            "progress": f"{r.steps:,} {comparison.unit(method)}" + (" ✓" if r.finished else "")
                        + (" (diverged)" if r.diverged else ""),
            "test acc": fmt(r.test_acc), "test NLL": fmt(r.test_nll), "ECE": fmt(r.ece),
            "epistemic near": _with_se(r.epistemic_near, r.epistemic_near_se),
            "epistemic far": _with_se(r.epistemic_far, r.epistemic_far_se),
            "verdict": verdict.HEADLINES.get(method_verdict(
                r, _best_acc(report), comparison.num_classes).kind, "diverged"),
            **({"entropy in gap": fmt(r.entropy_gap)} if comparison.data.gap else {}),
            "|Δp| vs HMC": fmt(r.diff_from_hmc),
            "wall s": fmt(r.wall_s, 1),
            "steps/s": fmt(r.steps_per_s, 0),
        })
    return rows


def distance_bars(report: Report, comparison: Comparison
                  ) -> tuple[list[str], list[float], list[float] | None]:
    """Each method's distance from the reference's predictive, over the map and in the gap
    (None without one): the bars' labels and values."""
    others = [m for m in report.rows if m != REFERENCE_METHOD]
    return ([registry.method_label(m) for m in others],
            [report.rows[m].diff_from_hmc for m in others],
            [report.rows[m].diff_from_hmc_gap for m in others] if comparison.data.gap else None)


WHAT_YOU_SEE = (
    "**What you are looking at.** *MAP* is one network; *mean-field VI* a factorised Gaussian "
    "over the weights (Blundell et al. 2015); *MC dropout* keeps dropout on at prediction (Gal & "
    "Ghahramani 2016); a *deep ensemble* trains M networks from different seeds at once with "
    "`vmap` (Lakshminarayanan et al. 2017); *HMC* draws samples from the true posterior of the "
    "same network with NUTS and Stan's warm-up (Hoffman & Gelman 2014; blackjax). The preset "
    "*moons with a gap* asks what each says between the clusters, where no data constrain the "
    "answer (Foong et al. 2019).")


DRAWING = ("Drawing the maps: they are computed in a slot of the server's accelerator, "
           "beside other learners' work…")


def maps_caption(comparison: Comparison, kind_label: str, grid_size: int) -> str:
    """The caption under the maps: the colour scale, the lines and the dots, and the map's
    resolution when the frame budget made it coarser than `grid_size`."""
    k = comparison.num_classes
    drawn = comparison.map_grid(grid_size)
    return (f"Colour: {kind_label} in nats, one scale for every map (0 to ln {k} = "
            f"{math.log(k):.2f}). "
            + ("White line: P(y=1) = 0.5. " if k == 2 else
               "White lines: where the most probable class changes. ")
            + "Dots: training points, coloured by class"
            + (" · dotted box: the gap cut out of the moons." if comparison.data.gap else ".")
            + (f" The maps are drawn at {drawn}×{drawn}, not {grid_size}×{grid_size}: finer "
               f"maps of {len(comparison.runs)} methods of this network would hold the server "
               f"longer than {limits.MAX_FRAME_SECONDS:g} s a report (fewer methods or a smaller "
               "network give finer maps)." if drawn < grid_size else ""))
