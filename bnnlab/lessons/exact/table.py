"""Chapter 3's comparison: every approximation of `approximations.APPROXIMATIONS` on one exact
(tempered) posterior, as a `MethodTable` whose rows are computed lazily, with what the page
shows of it (the table's rows and captions, and the posterior view's payload)."""

from __future__ import annotations

import functools
import math
import threading
import time
import uuid

import numpy as np

from bnnlab.core import limits, runtime
from bnnlab.core.text import fmt
from bnnlab.lessons.exact import scoring
from bnnlab.lessons.exact.approximations import (
    METHOD_LABELS,
    METHODS,
    MethodResult,
    run_method,
)
from bnnlab.lessons.exact.chains import NUTS_MAX_DOUBLINGS, NUTSTrace
from bnnlab.lessons.exact.data import PARAM_NAMES, ExactProblem
from bnnlab.lessons.exact.gaussian import GaussianQ, q_covariance
from bnnlab.lessons.exact.quadrature import exact_posterior, mass_box, posterior_predictive
from bnnlab.lessons.exact.target import check_temperature
from bnnlab.live import scheduler
from bnnlab.live.wire import encode_floats, encode_grid

# A table no page has looked at for this long computes no further row: the learner moved on
# to other settings (a new table), and the superseded one stops after the row it is on.
IDLE_S = 3.0
ROW_WAIT_S = 60.0  # a page waits this long for the row it shows (a slow row of a busy server)
# The table's numeric columns (the page shows them to 4 decimals, right-aligned).
TABLE_NUMBERS = ("KL(Q‖P)", "KL(P‖Q)", "log evidence", "pred. at x*", "error",
                 "far entropy", "wall (s)")


def shown(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """`MethodTable.table` rows as the page shows them: each number to 4 decimals as text and a
    missing one (NaN: a KL of samples, a method not run yet) as "—", as the caption says.
    Text, because st.dataframe draws a missing number as "None" whatever its format."""
    return [{k: fmt(v, 4) if k in TABLE_NUMBERS else v for k, v in row.items()} for row in rows]


class MethodTable:
    """Every method of `approximations.METHODS` on P_T(θ | D): the rows of the table, computed
    lazily.

    Only the exact posterior is computed on construction. Every row is computed inside a slot
    of `slots` (the server-wide pool, as training is), by `row(method)` or by the table's
    filler thread (`fill_in_background`), which computes the method the learner looks at first
    and stops once no page has looked at the table (`touch`) for `IDLE_S` s: work for settings
    the learner has left is cancelled, not finished. The filler is not a daemon (a JAX call cut
    off at interpreter exit aborts the process); it starts nothing new once the interpreter
    exits. Thread-safe: one lock per method, so a row is computed once even when two threads
    ask for it together."""

    def __init__(self, problem: ExactProblem, temperature: float, q0: GaussianQ,
                 seed: int, slots: scheduler.Slots | None = None) -> None:
        self.problem = problem
        self.temperature = check_temperature(temperature)
        self.q0, self.seed = q0, seed
        self.slots = slots or scheduler.ACCELERATOR
        p = problem
        self.grid = exact_posterior(p.data, p.model, p.prior_std, p.noise,
                                    temperature=self.temperature)
        self.rows: dict[str, MethodResult] = {}
        self.errors: dict[str, str] = {}
        self._locks = {m: threading.Lock() for m in METHODS}
        self._background: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._landed = threading.Condition()  # notified when a row (or an error) lands
        self._first: str | None = None  # the method the filler computes next, if pending
        self._seen = time.monotonic()
        self.id = uuid.uuid4().hex[:12]  # the player reloads its image when this changes
        self._lines: dict[tuple[str, bytes], np.ndarray] = {}
        self._tables: dict[float, list[dict[str, object]]] = {}
        self._payloads: dict[tuple, dict] = {}
        self._density: dict[tuple, dict] = {}

    @functools.cached_property
    def view_box(self) -> tuple[float, float, float, float]:
        """The plotted box (lo1, hi1, lo2, hi2): where P_T(θ | D) has mass, with a margin."""
        return mass_box(self.grid, tail_mass=1e-4, pad=0.3)

    # ------------------------------------------------------------------ computing rows
    def touch(self) -> None:
        """A page looks at this table: keep filling it."""
        self._seen = time.monotonic()

    def idle(self) -> bool:
        """No page has looked at the table for `IDLE_S` s."""
        return time.monotonic() - self._seen > IDLE_S

    def row(self, method: str, give_up=lambda: False) -> MethodResult | None:
        """The method's row, computed now (inside a slot) if it is not yet; None if it failed
        (`errors`), or if `give_up()` or the interpreter's exit ended the wait for a slot."""
        if method not in self._locks:
            raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
        with self._locks[method]:
            if method not in self.rows and method not in self.errors:
                try:
                    with self.slots.hold(limits.COMPILE_WAIT_S, account=id(self),
                                         give_up=lambda: runtime.exiting() or give_up()):
                        result = run_method(method, self.problem, self.grid, self.q0, 0.0,
                                            self.seed)
                    self.rows[method] = result
                except scheduler.SlotTimeout:
                    return None  # given up (or no slot): nothing is recorded, it may run later
                except Exception as err:  # noqa: BLE001 - shown in the table, never raised
                    self.errors[method] = f"{type(err).__name__}: {err}"
                with self._landed:
                    self._landed.notify_all()
        return self.rows.get(method)

    def fill_in_background(self, first: str | None = None) -> None:
        """Compute every row not computed yet on the filler thread, `first` before the others
        (started if it is not running); the caller is a page looking at the table."""
        self.touch()
        if first is not None:
            self._first = first
        with self._start_lock:
            alive = self._background is not None and self._background.is_alive()
            if alive or not self.filling or runtime.exiting():
                return
            self._background = threading.Thread(target=self._fill, daemon=False,
                                                name=f"ch3-comparison-{self.id}")
            self._background.start()

    def _pending(self) -> list[str]:
        return [m for m in METHODS if m not in self.rows and m not in self.errors]

    def _fill(self) -> None:
        while (pending := self._pending()) and not self.idle() and not runtime.exiting():
            method = self._first if self._first in pending else pending[0]
            if self.row(method, give_up=self.idle) is None and method not in self.errors:
                return  # gave up waiting for a slot (idle, exiting): a later visit restarts it

    def wait_for(self, method: str, timeout: float) -> bool:
        """Block until `method`'s row (or its error) is in, or `timeout` s pass; whether it is."""
        with self._landed:
            return self._landed.wait_for(
                lambda: method in self.rows or method in self.errors, timeout)

    @property
    def done(self) -> int:
        """How many of the methods have a row (or an error)."""
        return len(self.rows) + len(self.errors)

    @property
    def filling(self) -> bool:
        """Some method has neither a row nor an error yet."""
        return self.done < len(METHODS)

    def progress(self) -> tuple[float, str] | None:
        """The fraction of methods done and a line saying so, for a progress bar; None once
        every method is done."""
        done = self.done
        if done == len(METHODS):
            return None
        return done / len(METHODS), f"Running the methods: {done} of {len(METHODS)} done…"

    def wait(self, timeout: float = 600.0) -> None:
        """Block until the filler thread (if any) has finished, looking at the table meanwhile
        as a page does (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while (thread := self._background) is not None and thread.is_alive() \
                and (left := deadline - time.monotonic()) > 0:
            self.touch()
            thread.join(min(left, 0.5))

    # --------------------------------------------------------------------- reading rows
    def exact_line(self, x: np.ndarray) -> np.ndarray:
        """The exact (tempered) predictive along x float64[m], memoised."""
        key = ("", x.tobytes())
        if key not in self._lines:
            self._lines[key] = posterior_predictive(self.grid, self.problem.model, x)
        return self._lines[key]

    def line(self, method: str, x: np.ndarray) -> np.ndarray:
        """Predictive of `method` along x float64[m], memoised (NaN while the method has no
        row)."""
        key = (method, x.tobytes())
        if key not in self._lines:
            if (row := self.rows.get(method)) is None:
                return np.full(x.shape, np.nan)
            self._lines[key] = scoring.line_predictive(row.q, row.samples, self.problem.model,
                                                       x)
        return self._lines[key]

    def table(self, x_star: float) -> list[dict[str, object]]:
        """One dict per method (exact first), for st.dataframe; NaN where a method has no
        value, "computing…" in `evidence kind` while its row is not there yet. Memoised once
        every row is in."""
        key = float(x_star)
        if key in self._tables:
            return self._tables[key]
        rows = self._table(key)
        if not self.filling:
            self._tables[key] = rows
        return rows

    def _table(self, x_star: float) -> list[dict[str, object]]:
        p = self.problem
        exact_pred = scoring.exact_predictive_at(self.grid, p.model, x_star)
        rows: list[dict[str, object]] = [{
            "method": "Exact (quadrature)", "KL(Q‖P)": 0.0, "KL(P‖Q)": 0.0,
            "log evidence": self.grid.log_evidence, "evidence kind": "exact",
            "pred. at x*": exact_pred, "error": 0.0,
            "far entropy": scoring.far_entropy_exact(self.grid, p.data, p.model, p.noise),
            "wall (s)": math.nan}]
        for name in METHODS:
            row = self.rows.get(name)
            if row is None:
                rows.append({"method": METHOD_LABELS[name], "KL(Q‖P)": math.nan,
                             "KL(P‖Q)": math.nan, "log evidence": math.nan,
                             "evidence kind": (f"failed: {self.errors[name]}"
                                               if name in self.errors else "computing…"),
                             "pred. at x*": math.nan, "error": math.nan,
                             "far entropy": math.nan, "wall (s)": math.nan})
                continue
            pred = scoring.predictive_at(row.q, row.samples, p.model, x_star)
            rows.append({"method": METHOD_LABELS[name], "KL(Q‖P)": row.kl_reverse,
                         "KL(P‖Q)": row.kl_forward, "log evidence": row.evidence,
                         "evidence kind": row.evidence_kind, "pred. at x*": pred,
                         "error": pred - exact_pred,
                         "far entropy": scoring.far_entropy(row.q, row.samples, p.data,
                                                            p.model, p.noise),
                         "wall (s)": row.wall_s})
        return rows

    # ------------------------------------------------------------ the posterior view
    def view_payload(self, method: str, box: tuple[float, float, float, float],
                     size: int = 96) -> dict:
        """What `ui.posterior_view` draws for `method` (compact base64 arrays), memoised:
        the posterior image (the browser keeps it while `density_id` is unchanged), the axes'
        titles (the parameters' names), and the method's Gaussian (mean, covariance) or its
        NUTS chain. Call `row(method)` first."""
        key = (method, tuple(float(b) for b in box), size)
        if key not in self._payloads:
            row = self.rows.get(method)
            payload = {**self._density_payload(box, size), "method": method,
                       "title": METHOD_LABELS[method],
                       "axes": list(PARAM_NAMES[self.problem.model]), "gaussian": None,
                       "chain": None, "note": ""}
            if row is None:
                payload["note"] = self.errors.get(method, "not computed")
            elif row.q is not None:
                payload["gaussian"] = {"mean": [float(v) for v in np.asarray(row.q.mean)],
                                       "cov": [float(v) for v in
                                               q_covariance(row.q).ravel()]}
            elif row.trace is not None:
                payload["chain"] = self._chain_payload(row.trace)
            else:
                payload["note"] = row.evidence_kind
            if row is None and method not in self.errors:
                return payload  # not computed yet: not memoised
            self._payloads[key] = payload
        return self._payloads[key]

    def _density_payload(self, box: tuple[float, float, float, float], size: int) -> dict:
        key = (tuple(float(b) for b in box), size)
        if key not in self._density:
            p = self.problem
            _, _, density = scoring.display_density(self.grid, p.data, p.model, p.prior_std,
                                                    p.noise, box, size)
            self._density[key] = {
                "density_id": f"{self.id}-{hash(key) & 0xffffffff:x}",
                "box": [float(b) for b in box], "nx": size, "ny": size,
                "density": encode_grid(density, float(density.max()) or 1.0)}
        return self._density[key]

    def _chain_payload(self, trace: NUTSTrace) -> dict:
        """The NUTS chain: each kept trajectory's states concatenated (offsets from
        `lengths`), the end momenta, the chain's states and the per-transition flags."""
        lengths = trace.lengths.astype(np.int64)
        paths = np.concatenate([trace.trajectories[t, :n] for t, n in enumerate(lengths)])

        def bits(a: np.ndarray) -> str:
            return "".join("1" if v else "0" for v in a)

        return {"id": self.id, "total": int(lengths.size), "warmup": int(trace.warmup.sum()),
                "init": [float(v) for v in np.asarray(self.q0.mean)],
                "max_doublings": NUTS_MAX_DOUBLINGS,
                "lengths": [int(n) for n in lengths],
                "doublings": [int(n) for n in trace.doublings],
                "paths": encode_floats(paths.astype(np.float32)),
                "momenta": encode_floats(trace.momenta.astype(np.float32)),
                "positions": encode_floats(trace.positions.astype(np.float32)),
                "step_size": encode_floats(trace.step_size.astype(np.float32)),
                "moved": bits(trace.accepted), "divergent": bits(trace.divergent),
                "turning": bits(trace.turning)}


