"""Chapter 4's live playground, free of any UI: one learner's `Session`.

The page binds its widgets to `Session.apply(cfg)`, map clicks to `Session.click(x, y, mode)` and
its live chart to `Session.tick(view) -> (payload, status)`, and its buttons to `train`, `pause`,
`step`, `extend`, `reset`, `make_bayesian`… The session owns the config, the data (generated,
uploaded, clicked points), the run (`live.run.Run`), its trainer (`live.trainer.Trainer`) and an
explicit status. Training runs on the trainer's thread, never on the page's.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from bnnlab import registry
from bnnlab.core import limits, palette, runtime
from bnnlab.core.errors import ConfigError
from bnnlab.data import toy
from bnnlab.lessons.playground_data import (  # noqa: F401 - the session's public helpers
    PlaygroundData,
    _effective,
    add_modes,
    build_data,
    check_upload_budget,
    click_modes,
    needs_reset,
)
from bnnlab.live import frames, scheduler
from bnnlab.live.compile_cache import CompileBusy
from bnnlab.live.frames import REFRESH_S, View
from bnnlab.live.run import Run, Snapshot
from bnnlab.live.trainer import Status, Trainer, friendly_error, status_of
from bnnlab.training import links
from bnnlab.training.config import TrainConfig
from bnnlab.training.links import AddedPoint

# Map clicks carry an id (the browser's) when they may arrive twice, over the push route and
# through the page; the session remembers the ids of the last ones it applied (`Session.click`).
MAX_CLICK_IDS = 64
MAX_CLICK_ID_CHARS = 32


class Session:
    """One learner's playground: config, data (generated, uploaded, clicked points), the run,
    its trainer and an explicit status. Pages call `apply`, `click`, `tick` and the buttons."""

    def __init__(self, cfg: TrainConfig, added: list[AddedPoint] | None = None,
                 uploaded: tuple[np.ndarray, np.ndarray] | None = None,
                 slots: scheduler.Slots | None = None) -> None:
        self.slots = slots or scheduler.ACCELERATOR
        self.cfg = cfg
        # a clicked point of a class the data do not have is dropped (e.g. from a link)
        k = _effective(cfg, uploaded).num_classes
        self.added = [p for p in (added or []) if p[2] < k]
        self.uploaded = uploaded
        self.probe: tuple[float, float, np.ndarray] | None = None
        self.wants_training = False
        self.error: str | None = None
        # Steps granted beyond `cfg.steps` (the learner's *Training steps*) by Continue, Step
        # and clicks on a trained map: the run's budget is `cfg.steps + extra`, at most
        # `limits.MAX_STEPS`. The page never writes the widget back (a value the server sets
        # can lose to the browser's older one in a rerun already on its way).
        self.extra = 0
        # Train, Pause and map clicks come from the page and from the push route's commands
        # (ui/push_route.py), on two threads: one at a time.
        self.commands = threading.RLock()
        self._applied_clicks: tuple[str, ...] = ()  # replaced whole: read without the lock
        self._shown: int | None = None  # serial of the snapshot last drawn
        self._metrics: tuple[tuple, float, dict, float] | None = None  # key, time, metrics, rate
        self._history_sent: tuple[int, float, float] | None = None
        # While training, the metrics and the objective's history refresh this often (s); the
        # push path lengthens it while other sessions wait for the accelerator (live.push).
        self.refresh_s = REFRESH_S
        self.run = self._new_run(cfg)  # raises ConfigError / DataError: the page says so
        self.trainer = Trainer(self.run, self.slots)

    @classmethod
    def from_link(cls, params: dict[str, str], fields: tuple[str, ...],
                  slots: scheduler.Slots | None = None) -> tuple[Session, list[str]]:
        """A session from a link's query parameters (`links.from_query_params` for `fields`,
        `added` for clicked points), and the notices about what it ignored or clamped; settings
        that cannot start fall back to the defaults with a notice."""
        params = dict(params)
        added_text = params.pop("added", "")
        cfg, notices = links.from_query_params(params, fields=fields)
        if "noise" not in params and cfg.dataset in toy.REGISTRY:  # the dataset's own
            cfg = cfg.replace(noise=toy.REGISTRY[cfg.dataset].default_noise)
        added, notice = links.decode_added(added_text) if added_text else ([], None)
        notices += [notice] if notice else []
        foreign = sum(1 for point in added if point[2] >= cfg.num_classes)
        if foreign:
            notices.append(f"Ignored {foreign} added point(s) of a class the data do not have "
                           f"(classes 0…{cfg.num_classes - 1}).")
        try:
            return cls(cfg, added, slots=slots), notices
        except (ValueError, RuntimeError) as err:  # bad data, over budget, out of memory
            notices.append(f"Could not start with the link's settings ({err}); using the "
                           "defaults.")
            return cls(TrainConfig(), slots=slots), notices

    def link(self, fields: tuple[str, ...]) -> dict[str, str]:
        """Query parameters that reproduce this session (uploaded data excepted)."""
        params = links.to_query_params(self.cfg, fields)
        if self.added:
            params["added"] = links.encode_added(self.added)
        return params

    # ---------------------------------------------------------------- lifecycle
    @property
    def num_classes(self) -> int:
        """K of the data being trained on (2: binary)."""
        return self.run.num_classes

    @property
    def classes(self) -> list[dict]:
        """The legend of the data's K classes: `palette.class_legend`."""
        return palette.class_legend(self.num_classes)

    def _new_run(self, cfg: TrainConfig) -> Run:
        cfg = _effective(cfg, self.uploaded)
        run = Run(cfg, build_data(cfg, self.added, self.uploaded))
        self._warm_up(run)
        return run

    def _warm_up(self, run: Run) -> None:
        """Compile the chunk in the background (inside a slot) while the learner reads the page,
        so the click on Train does not wait for it; errors show on the first chunk. Then the
        method's post-training fit, so that it is instant."""
        if run.compiled:
            return

        def compile_chunk() -> None:
            deadline = time.monotonic() + limits.COMPILE_WAIT_S
            while not run.compiled and time.monotonic() < deadline and not run.retired:
                try:
                    run.ensure_compiled(self.slots, limits.SLOT_WAIT_S)
                except (scheduler.SlotTimeout, CompileBusy):
                    continue
                except Exception:  # noqa: BLE001 - the trainer's first chunk reports it
                    return
            try:
                if run.compiled and not run.retired:
                    run.compile_fit()
            except Exception:  # noqa: BLE001 - the fit itself reports it
                return

        threading.Thread(target=compile_chunk, name="bnnlab-warm-up", daemon=True).start()

    def _replace_run(self, cfg: TrainConfig | None = None) -> None:
        run = self._new_run(cfg or self.cfg)
        self._swap(run)
        self.extra = 0  # a new run trains *Training steps*
        self.probe = None
        self.wants_training = False
        self.error = None
        runtime.release_memory()  # the old run's buffers, freed, back to the OS

    def _swap(self, run: Run) -> None:
        """Train `run` from now on; the old run's trainer stops and the run is retired."""
        self.trainer.stop()
        self.run.retired = True
        self.run = run
        self.trainer = Trainer(run, self.slots)

    @property
    def status(self) -> Status:
        run = self.run
        return status_of(run, self.trainer, run.step, run.diverged, self.wants_training,
                         self.error)

    @property
    def message(self) -> str | None:
        return self.trainer.error or self.error

    @property
    def expected_frame_s(self) -> float:
        """The modelled cost of the live chart's next frame (the push pump's short lane)."""
        return frames.frame_seconds(self.run, self.run.cfg.grid_size)

    @property
    def notices(self) -> list[str]:
        """What the cost budget changed: a shortened chunk, a coarser map."""
        return [*self.run.notices, *filter(None, [frames.grid_notice(self.run,
                                                                     self.run.cfg.grid_size)])]

    # ---------------------------------------------------------------- what the page binds to
    def apply(self, cfg: TrainConfig) -> bool:
        """Take validated settings; returns True when they started a new run (data,
        architecture or method changed). Live settings (`config.LIVE_FIELDS`) apply to the
        running run, whose budget stays `cfg.steps` plus the steps granted since it started
        (`extra`). Raises (bad data, over the cost budget) changing nothing."""
        with self.commands:  # not halfway through a click of the push route (`click`)
            if needs_reset(self.run.cfg, _effective(cfg, self.uploaded)):
                self._replace_run(cfg)
                self.cfg = cfg
                return True
            self.run.update_hyper(cfg.replace(
                steps=min(limits.MAX_STEPS, cfg.steps + self.extra)))
            self.cfg = cfg
            return False

    @property
    def budget(self) -> int:
        """The steps this run trains to: *Training steps* plus what Continue, Step and clicks
        on the map granted since the run started."""
        return self.run.cfg.steps

    def _grant(self, total: int) -> None:
        """Raise the run's budget to `total` steps (at most `limits.MAX_STEPS`); over the cost
        budget it raises ConfigError and changes nothing."""
        with self.commands:
            total = min(limits.MAX_STEPS, int(total))
            if total <= self.run.cfg.steps:
                return
            self.run.update_hyper(self.cfg.replace(steps=total))
            self.extra = total - self.cfg.steps

    def click(self, x: float, y: float, mode: str, click_id: Any = None) -> str | None:
        """A click on the map at (x, y) (standardised units): adds a training point of class k
        (`mode` "add0" … "add{K−1}") keeping the learned parameters, or probes the posterior
        there ("probe"). Returns a message when the click is refused.

        `click_id` (a short string; anything else counts as none) names the click where it
        may arrive twice (the push route and the page): an added point's id is remembered
        (the last `MAX_CLICK_IDS`) and the same id again does nothing. A refused click is not
        remembered, so its second arrival is refused again and the page can say why."""
        if not (isinstance(click_id, str) and 0 < len(click_id) <= MAX_CLICK_ID_CHARS):
            click_id = None
        with self.commands:
            if click_id is not None and click_id in self._applied_clicks:
                return None
            refused = self._click(x, y, mode)
            if refused is None and click_id is not None and str(mode).startswith("add"):
                self._applied_clicks = (*self._applied_clicks, click_id)[-MAX_CLICK_IDS:]
            return refused

    def applied_click(self, click_id: str) -> bool:
        """Whether the point of the click named `click_id` was added (and is remembered)."""
        return click_id in self._applied_clicks

    def _click(self, x: float, y: float, mode: str) -> str | None:
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            return "That click had no position."
        if mode not in ("probe", *add_modes(self.num_classes)):
            if str(mode).startswith("add"):
                return f"There is no {mode[3:]!r} class here: the data have classes 0…" \
                       f"{self.num_classes - 1}."
            return None
        if not links.in_bounds(x, y):
            return (f"Points must lie within ±{limits.MAX_ABS_COORD:g} standardised units "
                    "of the data's centre: zoom in and click closer to the data.")
        if mode == "probe":
            self.probe = (x, y, self.run.probe(x, y))
            return None
        if len(self.added) >= limits.MAX_ADDED_POINTS:
            return f"At most {limits.MAX_ADDED_POINTS} added points."
        added = [*self.added, (round(x, 3), round(y, 3), int(mode[3:]))]
        try:  # over the cost budget with one more point: refused, the data stay as they were
            self.run.set_data(build_data(self.run.cfg, added, self.uploaded))
        except ConfigError as err:
            return f"Point not added: {err}"
        self.added = added
        self._train_on_new_data()
        return None

    def _train_on_new_data(self) -> None:
        """After a click added a point: a run that has started trains on from its current
        posterior for at least `limits.CLICK_TRAIN_STEPS` more steps (raising a finished run's
        budget), so the boundary reacts to the point. Training keeps going as it was; a paused
        or finished run trains those steps and stops again. Nothing happens before the first
        Train (the learner may be placing points) or after a divergence."""
        run = self.run
        if run.diverged or (run.step == 0 and not self.trainer.running):
            return
        try:
            self._grant(run.step + limits.CLICK_TRAIN_STEPS)
        except ConfigError:  # a longer run is over the cost budget: train what is left
            pass
        if not self.trainer.running and not run.finished:
            self.error = None
            self.trainer.start(max_steps=limits.CLICK_TRAIN_STEPS)

    def tick(self, view: View | None = None, wait_s: float = 0.25) -> tuple[dict | None, Status]:
        """The live chart's next payload and the status. While training, it waits up to `wait_s`
        for a new chunk rather than send the browser the frame it already shows. The payload is
        None when drawing failed (then `message` says why)."""
        view = view or View()
        # Read before the frame: an id listed here names a point that the frame's data hold.
        applied_clicks = self._applied_clicks
        run, trainer = self.run, self.trainer
        trainer.touch()
        if self.wants_training and not trainer.running and not run.finished \
                and not trainer.error:
            trainer.start()  # e.g. after the learner came back to this page
        if trainer.running and self._shown == run.snapshot.serial:
            run.wait_for_step_after(run.step, timeout=wait_s)
        snap = run.snapshot
        try:
            payload = frames.frame(run, run.cfg.grid_size, view.zoom, view.kind, snap)
            payload["metrics"], payload["verdict"] = self._metrics_row(run, trainer, snap)
            if self._history_due(run, trainer):
                payload["history"] = frames.history_payload(run, snap)
        except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
            self.error = friendly_error(err)
            self.wants_training = False
            trainer.stop(wait=False)
            return None, Status.ERROR
        mode = view.mode
        payload["mode"] = "add" if mode.startswith("add") else mode
        payload["add_class"] = mode[-1] if mode.startswith("add") else ""
        payload["view_revision"] = f"{run.cfg.dataset}-{view.zoom}"
        payload["clicks"] = list(applied_clicks[-8:])  # the chart's pending points: done
        self._shown = snap.serial
        status = self.status
        if status in (Status.FINISHED, Status.DIVERGED, Status.ERROR):
            self.wants_training = False
        return payload, status

    def _history_due(self, run: Run, trainer: Trainer) -> bool:
        """The objective chart redraws twice a second: while training send its history about
        that often (the chart keeps the last one), otherwise whenever it changed."""
        now = time.monotonic()
        sent = self._history_sent
        due = (sent is None or sent[0] != run.serial or sent[2] != run.cfg.kl_weight
               or not trainer.running or now - sent[1] > self.refresh_s)
        if due:
            self._history_sent = (run.serial, now, run.cfg.kl_weight)
        return due

    def _metrics_row(self, run: Run, trainer: Trainer, snap: Snapshot
                     ) -> tuple[list[dict], dict]:
        """The metrics under the maps and the verdict above them (`core.verdict`, from the
        same metrics). They cost ~20 ms, so while training they refresh a few times a second,
        not every frame; each row belongs to one snapshot, whose step it shows. A new snapshot
        at the same step (a post-training fit: Laplace's posterior after MAP) refreshes them
        at once. `run` and `trainer` are the ones `tick` read: a rerun may replace `self.run`
        meanwhile, and `snap` belongs to this one."""
        now = time.monotonic()
        key = (run.serial, run.data_version)
        cached = self._metrics
        if cached is None or cached[0] != key or (
                cached[2]["serial"] != snap.serial
                and (now - cached[1] > self.refresh_s or not trainer.running
                     or cached[2]["step"] == snap.step)):
            rate = 0.0
            if cached is not None and cached[0] == key and snap.step > cached[2]["step"]:
                rate = (snap.step - cached[2]["step"]) / (now - cached[1])
            cached = self._metrics = (key, now, run.metrics(snap), rate)
        return (frames.metrics_row(cached[2], cached[3], trainer.running,
                                   run.last_chunk_steps_per_s),
                frames.verdict_payload(cached[2], run.num_classes, run.data.y_train))

    @property
    def shown_metrics(self) -> dict | None:
        """The metrics of the last row drawn (their `step` included)."""
        return None if self._metrics is None else self._metrics[2]

    # ---------------------------------------------------------------- buttons
    def train(self) -> None:
        """Train in the background; the script thread never runs a chunk."""
        with self.commands:
            if self.run.finished:
                return
            self.wants_training = True
            self.error = None
            self.trainer.start()  # a no-op while running (e.g. the push route started it)

    def pause(self) -> None:
        """Stop after the current chunk (blocks until then); a no-op when stopped."""
        with self.commands:
            self.wants_training = False
            self.trainer.stop()

    def extend(self, extra_steps: int | None = None) -> str | None:
        """Continue a run for `extra_steps` (default: *Training steps*, `cfg.steps`) more steps
        from where it stands: the run's budget becomes step + `extra_steps`, at most
        `limits.MAX_STEPS`, and it trains. Returns a message when it cannot (diverged, at the
        step limit, or a run that long is over the cost budget); then nothing changes."""
        if self.run.diverged:
            return "The run diverged: press Reset."
        extra_steps = self.cfg.steps if extra_steps is None else extra_steps
        wanted = min(limits.MAX_STEPS, self.run.step + max(1, int(extra_steps)))
        if wanted <= self.run.step:
            return (f"The run has taken the most steps a run may take "
                    f"({limits.MAX_STEPS:,}): press Reset to start again.")
        try:
            self._grant(wanted)
        except ConfigError as err:
            return f"Cannot continue: {err}"
        self.train()
        return None

    @property
    def at_step_limit(self) -> bool:
        """The run has taken `limits.MAX_STEPS` steps: it cannot be continued, only reset."""
        return self.run.step >= limits.MAX_STEPS

    def step(self) -> None:
        """One chunk's worth of steps (`steps_per_chunk`), trained in the background; a
        finished run's budget grows by that much first (Step continues it)."""
        self.wants_training = False
        self.trainer.stop()
        chunk = self.run.engine.static.steps_per_chunk
        if self.run.finished and not self.run.diverged:
            try:
                self._grant(self.run.step + chunk)
            except ConfigError as err:  # a longer run is over the cost budget
                self.error = str(err)
                return
        if not self.run.finished:
            self.trainer.start(max_steps=chunk)

    def wait_for_step(self, timeout: float) -> bool:
        """Wait until the trainer has stopped or `timeout` s passed (the Step button's page
        shows its result)."""
        return self.trainer.join(timeout)

    def _restart(self, added: list, uploaded: tuple[np.ndarray, np.ndarray] | None) -> bool:
        """A new run on `added` / `uploaded` points; on any error (e.g. out of memory while
        initialising) the previous run, points and upload stay and `message` says why."""
        with self.commands:  # not halfway through a click of the push route (`click`)
            old = (self.added, self.uploaded)
            k = _effective(self.cfg, uploaded).num_classes
            self.added, self.uploaded = [p for p in added if p[2] < k], uploaded
            try:
                self._replace_run()
            except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
                self.added, self.uploaded = old
                self.error = friendly_error(err)
                return False
            return True

    def reset(self) -> None:
        self._restart(self.added, self.uploaded)

    def undo_point(self) -> None:
        """Remove the last point clicked onto the map, keeping the learned parameters; a run
        that has started trains on without it, as after a click (`_train_on_new_data`)."""
        with self.commands:
            if not self.added:
                return
            added = self.added[:-1]
            try:
                self.run.set_data(build_data(self.run.cfg, added, self.uploaded))
            except ConfigError as err:
                self.error = f"Point not removed: {err}"
                return
            self.added = added
            self.probe = None
            self._train_on_new_data()

    def clear_added(self) -> None:
        self._restart([], self.uploaded)

    def upload(self, xy: tuple[np.ndarray, np.ndarray]) -> bool:
        """Train on uploaded `(x float32[n, 2], y int32[n])`; over budget: `BudgetError`."""
        check_upload_budget(_effective(self.cfg, xy), xy)
        return self._restart([], xy)

    def use_generated(self) -> None:
        self._restart([], None)

    def close(self) -> None:
        self.wants_training = False
        self.run.retired = True
        self.trainer.stop(wait=False)

    # ---------------------------------------------------------------- a post-training fit
    def fit_target(self) -> str | None:
        """The method whose post-training fit applies to this run: its own (Laplace), or one
        that takes over this method's trained network (`Fit.takes_over`: MAP -> Laplace);
        None when there is none."""
        if self.run.can_fit:
            return self.cfg.method
        return next((name for name, spec in registry.METHODS.items()
                     if spec.fit is not None and self.cfg.method in spec.fit.takes_over), None)

    def make_bayesian(self) -> str | None:
        """Fit the posterior around the network trained so far ("Make this network Bayesian"):
        training pauses; a MAP run becomes a Laplace run on the same parameters, data and step
        (its history kept), then Laplace's fit runs. Returns the method now used, or None
        (nothing to fit, or an error: `message` says)."""
        target = self.fit_target()
        if target is None:
            return None
        self.pause()
        try:
            if target != self.cfg.method:
                self._swap(Run.taken_over(self.run, target))
                self.cfg = self.cfg.replace(method=target)
            self.run.fit_posterior()
        except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
            self.error = friendly_error(err)
            return None
        return target
