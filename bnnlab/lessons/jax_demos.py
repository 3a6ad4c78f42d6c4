"""Live measurements for the "JAX in code" page: `grad`, `jit`, `vmap` and `lax.scan`.

Every function here is pure JAX/numpy and returns plain numbers or numpy arrays, measured on
whatever device JAX picked (`runtime.device_label()`). Sizes are arguments, so the page can use
a demo that finishes in seconds on a 2-core CPU and the tests an even smaller one. Nothing here
is hard-coded: a timing is a `time.perf_counter` difference around a call that has been
`jax.block_until_ready`-ed (JAX dispatches asynchronously, so without it we would time the
dispatch, not the work).

Which sizes a learner may pick, and how a measurement runs on the server's accelerator pool
without blocking the page, is `bnnlab.lessons.jax_timing`.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bnnlab.core import likelihoods, models, runtime
from bnnlab.data import toy
from bnnlab.methods import vi
from bnnlab.methods.base import Hyper, LogLikelihoodFn
from bnnlab.training import engine

# --------------------------------------------------------------------------------------- grad

# Chapter 1's bug-free-code example: prior P(F) = 0.5 that the code is bug-free, tests always
# pass on bug-free code (P(T|F) = 1) and pass half the time on buggy code (P(T|¬F) = 0.5).
PRIOR_BUG_FREE = 0.5
P_PASS_IF_BUG_FREE = 1.0
P_PASS_IF_BUGGY = 0.5


def elbo_bug_free(phi: jax.Array) -> jax.Array:
    """ELBO(φ) of the bug-free example after one passing test, with q(F) = φ: float32[].

    ELBO(φ) = E_q[log P(T, ·)] − E_q[log q] = φ·log P(F)P(T|F) + (1−φ)·log P(¬F)P(T|¬F)
              − φ·log φ − (1−φ)·log(1−φ).
    It is maximised at the exact posterior φ* = P(F|T) = 2/3, where it equals log P(T).
    """
    log_joint_f = jnp.log(PRIOR_BUG_FREE * P_PASS_IF_BUG_FREE)
    log_joint_not_f = jnp.log((1.0 - PRIOR_BUG_FREE) * P_PASS_IF_BUGGY)
    entropy = -(phi * jnp.log(phi) + (1.0 - phi) * jnp.log1p(-phi))
    return phi * log_joint_f + (1.0 - phi) * log_joint_not_f + entropy


# Four points of a 1-weight logistic regression y ~ Bernoulli(sigmoid(w·x)).
_LOGISTIC_X = np.array([-2.0, -0.5, 1.0, 2.5], np.float32)
_LOGISTIC_Y = np.array([0.0, 1.0, 1.0, 1.0], np.float32)


def logistic_loss(w: jax.Array) -> jax.Array:
    """Mean negative log-likelihood of a 1-weight logistic regression on four points: float32[]."""
    logits = w * _LOGISTIC_X
    return -jnp.mean(_LOGISTIC_Y * jax.nn.log_sigmoid(logits)
                     + (1.0 - _LOGISTIC_Y) * jax.nn.log_sigmoid(-logits))


def wiggly(x: jax.Array) -> jax.Array:
    """sin(3x)·exp(−x²/4): many turning points, so the derivative changes sign often."""
    return jnp.sin(3.0 * x) * jnp.exp(-0.25 * x * x)


class GradFunction(NamedTuple):
    """A scalar function of one variable for the `grad` demo and the range to plot it on."""

    fn: Callable[[jax.Array], jax.Array]
    label: str  # shown in the picker
    variable: str  # axis title
    lo: float
    hi: float
    default_x: float
    note: str = ""  # a caption under its chart, if any


GRAD_FUNCTIONS: dict[str, GradFunction] = {
    "elbo_bug_free": GradFunction(
        elbo_bug_free, "ELBO(φ) of the bug-free-code example", "φ = q(F)", 0.02, 0.98, 0.3,
        "The derivative crosses zero at φ = 2/3 = P(F | T): maximising the ELBO over q "
        "recovers chapter 1's exact posterior."),
    "logistic_loss": GradFunction(logistic_loss, "Logistic-regression loss of one weight", "w",
                                  -4.0, 4.0, -1.0),
    "wiggly": GradFunction(wiggly, "sin(3x)·exp(−x²/4)", "x", -4.0, 4.0, 0.5),
}
DEFAULT_GRAD_FUNCTION = "elbo_bug_free"


def grad_function_name(name: object) -> str:
    """`name` if it names one of `GRAD_FUNCTIONS`, else the default (e.g. a stale session)."""
    return name if isinstance(name, str) and name in GRAD_FUNCTIONS else DEFAULT_GRAD_FUNCTION


class GradDemo(NamedTuple):
    """f, its `jax.grad` and a central finite difference on a grid, plus one chosen point."""

    x: np.ndarray  # float32[n]
    value: np.ndarray  # float32[n]: f(x)
    grad: np.ndarray  # float32[n]: jax.grad(f)(x), vmapped
    finite_difference: np.ndarray  # float32[n]: (f(x+h) − f(x−h)) / 2h
    step: float  # h
    max_abs_error: float  # max |grad − finite_difference| over the grid
    point: float  # the chosen x0
    point_value: float  # f(x0)
    point_grad: float  # f'(x0) by jax.grad
    point_finite_difference: float  # f'(x0) by central difference


def central_difference(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       step: float) -> np.ndarray:
    """(f(x+h) − f(x−h)) / 2h, error O(h²·f''') plus rounding O(eps·|f|/h)."""
    upper = np.asarray(fn(x + step), np.float64)
    lower = np.asarray(fn(x - step), np.float64)
    return (upper - lower) / (2 * step)


@functools.lru_cache(maxsize=len(GRAD_FUNCTIONS))
def compiled_value_and_grad(name: str) -> tuple[Callable, Callable]:
    """Jitted `f` and `f′ = jax.grad(f)`, each vmapped over float32[n] inputs; built once."""
    fn = GRAD_FUNCTIONS[name].fn
    return jax.jit(jax.vmap(fn)), jax.jit(jax.vmap(jax.grad(fn)))


def grad_demo(name: str, point: float, num_points: int = 200, step: float = 1e-3) -> GradDemo:
    """Evaluate `GRAD_FUNCTIONS[name]` and its derivative `jax.grad(f)` on `num_points` points.

    `point` is clipped into the function's range. The finite difference runs in float32 (JAX's
    default), so agreement to ~1e-3 is what to expect, not 1e-7.
    """
    spec = GRAD_FUNCTIONS[name]
    point = float(np.clip(point, spec.lo, spec.hi))
    x = np.linspace(spec.lo, spec.hi, int(num_points), dtype=np.float32)
    value_fn, grad_fn = compiled_value_and_grad(name)
    value = np.asarray(value_fn(x))
    grad = np.asarray(grad_fn(x))
    fd = central_difference(value_fn, x, step).astype(np.float32)
    x0 = np.array([point], np.float32)
    return GradDemo(
        x=x, value=value, grad=grad, finite_difference=fd, step=step,
        max_abs_error=float(np.max(np.abs(grad - fd))), point=point,
        point_value=float(value_fn(x0)[0]), point_grad=float(grad_fn(x0)[0]),
        point_finite_difference=float(central_difference(value_fn, x0, step)[0]),
    )


# ------------------------------------------------------------------------ a small VI problem

class VIProblem(NamedTuple):
    """A small Bayes-by-Backprop problem: an MLP on moons, flattened to θ ∈ R^d."""

    log_likelihood_fn: LogLikelihoodFn  # θ float32[d] -> float32[]
    state: vi.VIState
    optimizer: optax.GradientTransformation
    num_params: int


def make_vi_problem(hidden: Sequence[int] = (32, 32), num_points: int = 256,
                    seed: int = 0) -> VIProblem:
    """Moons with `num_points` points and the MLP `2 -> hidden -> 1`, q centred on Flax's init."""
    x, y = toy.make("moons", int(num_points), 0.15, int(seed))
    batch = engine.make_batch(x, y)
    model = models.make_mlp(tuple(hidden))
    logits_fn, theta0 = models.make_logits_fn(model, jax.random.key(seed))

    def log_likelihood_fn(theta: jax.Array) -> jax.Array:
        return likelihoods.bernoulli_log_likelihood(logits_fn(theta, batch.x), batch)

    optimizer = optax.scale_by_adam()
    state = vi.init(theta0, 0.1, optimizer)
    return VIProblem(log_likelihood_fn, state, optimizer, int(theta0.shape[0]))


def _timed(fn: Callable[[], object]) -> float:
    """Seconds for one call of `fn`, waiting for the device to finish."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------- jit

class JitTiming(NamedTuple):
    """One VI training step, eager vs `jax.jit`, in seconds."""

    eager_first_s: float  # first eager call (JAX still builds a few small kernels)
    eager_median_s: float
    jit_first_s: float  # trace + XLA compile + run
    jit_median_s: float
    new_learning_rate_s: float  # jitted call with a different learning rate (no recompile)
    traces_after_new_learning_rate: int  # how many times the jitted step was traced: 1
    new_num_samples_s: float  # jitted call with a new sample count: a new shape, a recompile
    traces_after_new_num_samples: int  # 2
    num_params: int
    device: str


def time_vi_step(hidden: Sequence[int] = (32, 32), num_points: int = 256, num_samples: int = 8,
                 eager_calls: int = 5, jit_calls: int = 50, seed: int = 0) -> JitTiming:
    """Time `vi.step` (Bayes by Backprop) called directly vs through `jax.jit`.

    The learning rate is a traced argument of the jitted step, so a new value reuses the
    compiled code; `num_samples` fixes the shape of the noise, so a new value compiles again.
    """
    problem = make_vi_problem(hidden, num_points, seed)
    traces = [0]

    def vi_step(rng_key, state, learning_rate, num_samples):
        traces[0] += 1  # Python side effect: runs only while JAX traces
        return vi.step(rng_key, state, problem.log_likelihood_fn, optimizer=problem.optimizer,
                       learning_rate=learning_rate, num_samples=num_samples, prior_std=3.0,
                       kl_weight=1.0)

    jitted_step = jax.jit(vi_step, static_argnames="num_samples")
    keys = jax.random.split(jax.random.key(seed), max(eager_calls, jit_calls) + 3)
    lr = jnp.float32(0.01)
    state = problem.state

    def eager():
        return vi_step(keys[0], state, lr, num_samples)

    eager_times = [_timed(eager) for _ in range(max(eager_calls, 2))]
    traces[0] = 0
    jit_times = [_timed(lambda k=k: jitted_step(k, state, lr, num_samples=num_samples))
                 for k in keys[:max(jit_calls, 2)]]
    new_lr_s = _timed(lambda: jitted_step(keys[-1], state, jnp.float32(0.05),
                                          num_samples=num_samples))
    traces_new_lr = traces[0]
    new_samples_s = _timed(lambda: jitted_step(keys[-2], state, lr, num_samples=num_samples + 1))
    return JitTiming(
        eager_first_s=eager_times[0], eager_median_s=float(np.median(eager_times[1:])),
        jit_first_s=jit_times[0], jit_median_s=float(np.median(jit_times[1:])),
        new_learning_rate_s=new_lr_s, traces_after_new_learning_rate=traces_new_lr,
        new_num_samples_s=new_samples_s, traces_after_new_num_samples=traces[0],
        num_params=problem.num_params, device=runtime.device_label(),
    )


# --------------------------------------------------------------------------------------- vmap

def expected_log_likelihood_loop(log_likelihood_fn: LogLikelihoodFn,
                                 thetas: jax.Array) -> jax.Array:
    """(1/S) Σ_s log P(Y|X, θ_s), one call per sample from Python: thetas float32[S, d]."""
    total = 0.0
    for theta in thetas:
        total = total + log_likelihood_fn(theta)
    return total / thetas.shape[0]


def expected_log_likelihood_vmap(log_likelihood_fn: LogLikelihoodFn,
                                 thetas: jax.Array) -> jax.Array:
    """The same estimate with `vmap`: all S samples in one batched computation."""
    return jnp.mean(jax.vmap(log_likelihood_fn)(thetas))


class VmapTiming(NamedTuple):
    """Median seconds per MC estimate of E_q[log P(Y|X,θ)] for each sample count."""

    num_samples: np.ndarray  # int[k]
    loop_s: np.ndarray  # float[k]: Python loop over a jitted per-sample log-likelihood
    vmap_s: np.ndarray  # float[k]: jitted vmap over the samples
    loop_value: np.ndarray  # float[k]: the estimates (equal up to float32 rounding)
    vmap_value: np.ndarray  # float[k]
    num_params: int
    device: str


def time_expected_log_likelihood(sample_counts: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
                                 hidden: Sequence[int] = (32, 32), num_points: int = 256,
                                 repeats: int = 5, seed: int = 0,
                                 on_progress: Callable[[float], None] | None = None
                                 ) -> VmapTiming:
    """Time the MC estimate with S weight samples θ_s ~ q: Python loop vs `vmap`.

    Both sides are compiled (the loop calls a jitted per-sample log-likelihood S times; `vmap`
    is jitted once per S) and warmed up first, so the times compare dispatch and batching, not
    compilation. `on_progress(fraction)` is called after each sample count.
    """
    problem = make_vi_problem(hidden, num_points, seed)
    per_sample = jax.jit(problem.log_likelihood_fn)
    batched = jax.jit(functools.partial(expected_log_likelihood_vmap, problem.log_likelihood_fn))
    counts = [int(s) for s in sample_counts]
    loop_s, vmap_s, loop_value, vmap_value = [], [], [], []
    for s in counts:
        thetas = vi.sample(jax.random.key(seed + s), problem.state, s)
        loop_value.append(float(expected_log_likelihood_loop(per_sample, thetas)))  # warm-up
        vmap_value.append(float(batched(thetas)))  # compiles for this S
        loop_s.append(float(np.median(
            [_timed(lambda t=thetas: expected_log_likelihood_loop(per_sample, t))
             for _ in range(repeats)])))
        vmap_s.append(float(np.median([_timed(lambda t=thetas: batched(t))
                                       for _ in range(repeats)])))
        if on_progress is not None:
            on_progress(len(vmap_s) / len(counts))
    return VmapTiming(np.array(counts), np.array(loop_s), np.array(vmap_s),
                      np.array(loop_value), np.array(vmap_value), problem.num_params,
                      runtime.device_label())


# --------------------------------------------------------------------------------------- scan

class ScanTiming(NamedTuple):
    """Training throughput of the app's engine: one step per call vs K steps per call."""

    steps_per_chunk: int  # K
    total_steps: int  # steps timed each way, over all rounds
    one_step_steps_per_s: float  # median over rounds
    k_steps_steps_per_s: float  # median over rounds
    device: str

    @property
    def speed_up(self) -> float:
        """K steps per call over 1 step per call, in steps/s."""
        return self.k_steps_steps_per_s / self.one_step_steps_per_s


def time_scan(steps_per_chunk: int = 50, total_steps: int = 500, hidden: Sequence[int] = (32, 32),
              num_points: int = 256, num_samples: int = 8, rounds: int = 5, seed: int = 0,
              on_progress: Callable[[float], None] | None = None) -> ScanTiming:
    """Steps/s of `engine.compiled(...).run_chunk` with K = 1 vs K = `steps_per_chunk`.

    Both engines come from the process-wide compile cache and are warmed up before timing.
    The two ways alternate for `rounds` rounds (so a busy machine slows both alike) and each
    reports its median rate; `total_steps` is rounded up to a multiple of K · rounds.
    """
    k = max(int(steps_per_chunk), 1)
    rounds = max(int(rounds), 1)
    calls = max(math.ceil(int(total_steps) / (k * rounds)), 1)  # K-step calls per round
    x, y = toy.make("moons", int(num_points), 0.15, int(seed))
    batch = engine.make_batch(x, y)
    hyper = Hyper(jnp.float32(0.01), jnp.float32(1.0), jnp.float32(3.0))

    def warm_engine(chunk: int):
        eng = engine.compiled(engine.StaticConfig(
            hidden=tuple(hidden), num_samples=int(num_samples), steps_per_chunk=chunk,
            data_bucket=engine.data_bucket(int(num_points))))
        state = eng.init(jax.random.key(seed), jnp.float32(0.1))
        state, _ = eng.run_chunk(state, batch, hyper)  # compiles unless cached
        return eng, jax.block_until_ready(state)

    def steps_per_s(eng, state, num_calls: int, chunk: int):
        start = time.perf_counter()
        for _ in range(num_calls):
            state, _ = eng.run_chunk(state, batch, hyper)
        jax.block_until_ready(state)
        return num_calls * chunk / (time.perf_counter() - start), state

    one, one_state = warm_engine(1)
    fused, fused_state = warm_engine(k)
    one_rates, fused_rates = [], []
    for r in range(rounds):
        rate, one_state = steps_per_s(one, one_state, calls * k, 1)
        one_rates.append(rate)
        rate, fused_state = steps_per_s(fused, fused_state, calls, k)
        fused_rates.append(rate)
        if on_progress is not None:
            on_progress((r + 1) / rounds)
    return ScanTiming(k, rounds * calls * k, float(np.median(one_rates)),
                      float(np.median(fused_rates)), runtime.device_label())


def speed_up(slow_s: float, fast_s: float) -> float:
    """How many times faster `fast_s` is than `slow_s` (inf for a zero time)."""
    return slow_s / fast_s if fast_s > 0 else math.inf


def max_estimate_difference(timing: VmapTiming) -> float:
    """Largest |loop − vmap| over the sample counts: float32 rounding only."""
    return float(np.max(np.abs(timing.loop_value - timing.vmap_value)))


# ------------------------------------------------------------------------------------- source

# CPython 3.11's AST constructor keeps its recursion depth in interpreter-wide state: two threads
# building ASTs at once (two sessions' script runs, each reading a class's source, which
# `inspect` finds with `ast`) can fail with "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905, fixed in 3.13 only). Sources are read once, under a lock,
# and a failed read is tried again. Streamlit's own "magic" parses every page with `ast` too; it
# is off in .streamlit/config.toml.
_SOURCE_LOCK = threading.Lock()
SOURCE_TRIES = 3


@functools.cache
def source_of(fn: Callable) -> str:
    """The real source code of `fn` (what the page shows, so it cannot drift)."""
    with _SOURCE_LOCK:
        for _ in range(SOURCE_TRIES):
            try:
                return inspect.getsource(fn)
            except (OSError, TypeError):
                break
            except SystemError:  # the AST race above: the next try reads it
                continue
    return f"# source of {getattr(fn, '__qualname__', fn)!r} is not available"


def source_excerpt(fn: Callable, start: str, end: str | None = None) -> str:
    """The lines of `fn`'s source from the first line containing `start` up to (not including)
    the first later line containing `end`, dedented; the whole source if `start` is missing."""
    lines = source_of(fn).splitlines()
    first = next((i for i, line in enumerate(lines) if start in line), None)
    if first is None:
        return "\n".join(lines)
    last = len(lines)
    if end is not None:
        last = next((i for i in range(first + 1, len(lines)) if end in lines[i]), len(lines))
    chunk = lines[first:last]
    while chunk and not chunk[-1].strip():
        chunk.pop()
    indent = min((len(line) - len(line.lstrip()) for line in chunk if line.strip()), default=0)
    return "\n".join(line[indent:] for line in chunk)
