"""JAX in code: `grad`, `jit`, `vmap` and `lax.scan`, each measured live on the server's device
with the real bnnlab source beside it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import jax
import numpy as np
import streamlit as st

from bnnlab import jax_demos as jd
from bnnlab import runtime, train, vi
from bnnlab.figures import jax_demos as figs

SS = st.session_state
NETWORKS = {"16,16": (16, 16), "32,32": (32, 32), "64,64": (64, 64)}
POINT_CHOICES = (128, 256, 512)
CHUNK_CHOICES = (10, 50, 100)
SAMPLE_COUNTS = (1, 2, 4, 8, 16, 32, 64)
NUM_SAMPLES = 8  # MC samples of the timed VI step, as in the playground


@st.cache_resource(show_spinner=False)
def measurement_lock() -> threading.Lock:
    """One measurement at a time per server: concurrent ones would slow each other down."""
    return threading.Lock()


def measure(result_key: str, label: str, fn: Callable[[Callable[[float], None]], object]) -> None:
    """Run `fn(on_progress)` under the server-wide lock with a spinner and a progress bar;
    store its result (or a message saying why there is none)."""
    lock = measurement_lock()
    with st.spinner(f"Measuring {label} on {runtime.device_label()}…", show_time=True):
        if not lock.acquire(timeout=60):
            SS[result_key] = "Another visitor's measurement is still running; try again shortly."
            return
        bar = st.progress(0.0)
        try:
            SS[result_key] = fn(lambda fraction: bar.progress(min(max(fraction, 0.0), 1.0)))
        except Exception as err:  # noqa: BLE001 — a page never shows a traceback
            SS[result_key] = f"The measurement failed ({type(err).__name__}); try a smaller size."
        finally:
            lock.release()
            bar.empty()


def show_result(result_key: str) -> object | None:
    """The stored result, or None after showing why there is none."""
    result = SS.get(result_key)
    if result is None:
        st.info("Press **Measure** to time it on this server.")
    elif isinstance(result, str):
        st.warning(result)
        return None
    return result


def ms(seconds: float) -> str:
    """'1.43 ms' below a second, '6.54 s' above."""
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


st.title("JAX in code")
st.markdown(
    "Three transformations carry the whole playground: **`grad`** differentiates the ELBO, "
    "**`jit`** compiles a training step, **`vmap`** batches the Monte Carlo samples, and "
    "**`lax.scan`** fuses K steps into one call. Every number below is measured when you press "
    "**Measure**, on the machine serving this page, and the code beside it is the real source "
    "of the `bnnlab` function that runs."
)
st.badge(f"JAX {jax.__version__} · {runtime.device_label()}", icon=":material/memory:",
         color="gray")

with st.expander("Size of the timing demos", expanded=False):
    c1, c2 = st.columns(2)
    hidden_name = c1.selectbox("Hidden layers", list(NETWORKS), index=1, key="jax_hidden",
                               help="The playground's default is 32,32.")
    num_points = c2.selectbox("Training points", POINT_CHOICES, index=1, key="jax_points")
hidden = NETWORKS.get(hidden_name, (32, 32))
num_points = num_points if num_points in POINT_CHOICES else 256
size_label = f"MLP 2-{'-'.join(map(str, hidden))}-1 on {num_points} moons points"

# ---------------------------------------------------------------------------------- 1 · grad
st.header("1 · `grad`: derivatives without algebra")
left, right = st.columns([1, 1], gap="large")
with left:
    fn_name = st.selectbox("Function", list(jd.GRAD_FUNCTIONS),
                           format_func=lambda n: jd.GRAD_FUNCTIONS[n].label, key="jax_grad_fn")
    spec = jd.GRAD_FUNCTIONS.get(fn_name) or jd.GRAD_FUNCTIONS["elbo_bug_free"]
    fn_name = fn_name if fn_name in jd.GRAD_FUNCTIONS else "elbo_bug_free"
    point = st.slider(f"Point {spec.variable}", spec.lo, spec.hi, spec.default_x,
                      (spec.hi - spec.lo) / 200, key=f"jax_grad_x0_{fn_name}")
    demo = jd.grad_demo(fn_name, point)
    m1, m2 = st.columns(2)
    m1.metric("f(x₀)", f"{demo.point_value:.5g}")
    m2.metric("max |grad − FD| on the grid", f"{demo.max_abs_error:.2g}")
    m1.metric("jax.grad(f)(x₀)", f"{demo.point_grad:.5g}")
    m2.metric("finite difference", f"{demo.point_finite_difference:.5g}",
              help=f"(f(x₀+h) − f(x₀−h)) / 2h with h = {demo.step:g}, in float32")
    st.plotly_chart(figs.grad_figure(demo.x, demo.value, demo.grad, demo.finite_difference,
                                     demo.point, demo.point_value, demo.point_grad,
                                     spec.variable, spec.label), key="jax_grad_chart")
    if fn_name == "elbo_bug_free":
        st.caption("The derivative crosses zero at φ = 2/3 = P(F | T): maximising the ELBO over "
                   "q recovers chapter 1's exact posterior.")
with right:
    st.markdown("`jax.grad(f)` is a new Python function computing f′ by reverse-mode automatic "
                "differentiation: exact up to float rounding, no step size to tune. The "
                "finite difference needs two evaluations per input and a well-chosen h.")
    st.code(jd.source_of(spec.fn), language="python", wrap_lines=True)
    st.code(jd.source_of(jd.compiled_value_and_grad), language="python", wrap_lines=True)

# ----------------------------------------------------------------------------------- 2 · jit
st.header("2 · `jit`: compile the training step once")
left, right = st.columns([1, 1], gap="large")
with left:
    st.markdown(
        f"One Bayes-by-Backprop step (`bnnlab.vi.step`: draw {NUM_SAMPLES} weight samples, "
        f"ELBO, gradient, Adam) on a {size_label}. Without `jit`, JAX runs it op by op from "
        "Python; with `jax.jit` it traces the step once, XLA compiles it into one fused "
        "program, and every later call runs that program."
    )
    if st.button("Measure", key="jax_measure_jit", type="primary"):
        measure("jax_jit_result", "one VI step with and without jit",
                lambda _: jd.time_vi_step(hidden, num_points, num_samples=NUM_SAMPLES,
                                        eager_calls=5, jit_calls=30))
    timing = show_result("jax_jit_result")
    if timing is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("median step, no jit", ms(timing.eager_median_s))
        c2.metric("median step, jax.jit", ms(timing.jit_median_s))
        c3.metric("jit speed-up", f"{timing.eager_median_s / timing.jit_median_s:.0f}×")
        st.plotly_chart(figs.jit_figure(timing.eager_first_s, timing.eager_median_s,
                                        timing.jit_first_s, timing.jit_median_s, timing.device),
                        key="jax_jit_chart")
        c1, c2 = st.columns(2)
        c1.metric("call with a new learning rate", ms(timing.new_learning_rate_s),
                  help="A traced argument: same shapes, same compiled program.")
        c1.caption(f"Traced {timing.traces_after_new_learning_rate} time(s) so far: no "
                   "recompile.")
        c2.metric(f"call with {NUM_SAMPLES + 1} samples instead of {NUM_SAMPLES}",
                  ms(timing.new_num_samples_s),
                  help="The sample count fixes the noise's shape: a new program.")
        c2.caption(f"Traced {timing.traces_after_new_num_samples} times: it compiled again.")
        st.caption(f"Measured on {timing.device}, {timing.num_params:,} parameters.")
    st.markdown(
        "**The compile cache.** `jax.jit` keeps one compiled program per *shape and static "
        "argument*; values are arguments. The playground goes one step further: "
        "`bnnlab.train.compiled(StaticConfig)` is a process-wide cache of jitted engines keyed "
        "by what changes shapes (layers, sample count, chunk length K, a power-of-two data "
        "bucket). Learning rate, β, prior σ and the data values are traced arguments, so moving "
        "those sliders reuses the compiled engine; only a new architecture or sample count pays "
        "the compile time once, and then it is cached for every visitor."
    )
with right:
    st.code(jd.source_of(vi.step_from_noise), language="python", wrap_lines=True)
    st.code(jd.source_of(train.StaticConfig), language="python", wrap_lines=True)

# ---------------------------------------------------------------------------------- 3 · vmap
st.header("3 · `vmap`: all Monte Carlo samples at once")
left, right = st.columns([1, 1], gap="large")
with left:
    st.markdown(
        "The ELBO needs E_q[log P(Y | X, θ)], estimated from S weight samples θ_s ~ q. A Python "
        "loop calls the (jitted) log-likelihood S times; `jax.vmap` turns the per-sample "
        "function into one batched function, so the S forward passes become a few large "
        f"matrix products in one call. Timed for S = 1 … 64 on a {size_label}."
    )
    if st.button("Measure", key="jax_measure_vmap", type="primary"):
        measure("jax_vmap_result", "the MC estimate, loop vs vmap",
                lambda progress: jd.time_expected_log_likelihood(
                    SAMPLE_COUNTS, hidden, num_points, repeats=5, on_progress=progress))
    timing = show_result("jax_vmap_result")
    if timing is not None:
        last = -1
        c1, c2, c3 = st.columns(3)
        c1.metric(f"loop, S = {timing.num_samples[last]}", ms(timing.loop_s[last]))
        c2.metric(f"vmap, S = {timing.num_samples[last]}", ms(timing.vmap_s[last]))
        c3.metric("vmap speed-up", f"{timing.loop_s[last] / timing.vmap_s[last]:.1f}×")
        st.plotly_chart(figs.vmap_figure(timing.num_samples, timing.loop_s, timing.vmap_s,
                                         timing.device), key="jax_vmap_chart")
        gap = float(np.max(np.abs(timing.loop_value - timing.vmap_value)))
        st.caption(f"Same estimate either way: the largest difference between loop and vmap is "
                   f"{gap:.2g} (float32 rounding). Measured on {timing.device}.")
with right:
    st.code(jd.source_of(vi.elbo_from_noise), language="python", wrap_lines=True)
    st.code(jd.source_of(jd.expected_log_likelihood_loop), language="python", wrap_lines=True)

# ---------------------------------------------------------------------------------- 4 · scan
st.header("4 · `lax.scan`: K steps in one dispatch")
left, right = st.columns([1, 1], gap="large")
with left:
    st.markdown(
        "Even a jitted step costs a round trip from Python each call: dispatch, argument "
        "checks, a device sync. `jax.lax.scan` writes the training loop *inside* the compiled "
        "program, so one call runs K steps and returns K steps of diagnostics. The playground's "
        "engine runs one such chunk per screen update. Below: the same engine "
        "(`bnnlab.train.compiled`) with K = 1 vs K steps per call."
    )
    k = st.selectbox("Steps per call K", CHUNK_CHOICES, index=1, key="jax_scan_k")
    k = k if k in CHUNK_CHOICES else 50
    if st.button("Measure", key="jax_measure_scan", type="primary"):
        measure("jax_scan_result", f"1 vs {k} steps per call",
                lambda progress: jd.time_scan(k, total_steps=max(500, 10 * k), hidden=hidden,
                                              num_points=num_points, num_samples=NUM_SAMPLES,
                                              on_progress=progress))
    timing = show_result("jax_scan_result")
    if timing is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("steps/s, 1 step per call", f"{timing.one_step_steps_per_s:,.0f}")
        c2.metric(f"steps/s, {timing.steps_per_chunk} steps per call",
                  f"{timing.k_steps_steps_per_s:,.0f}")
        speed_up = timing.k_steps_steps_per_s / timing.one_step_steps_per_s
        c3.metric("scan speed-up", f"{speed_up:.1f}×")
        if speed_up < 1.3:
            st.caption("Little gain here: on this device one step of this network costs far "
                       "more than a dispatch. Try Hidden layers 16,16 and 128 points above.")
        st.plotly_chart(figs.scan_figure(timing.one_step_steps_per_s, timing.k_steps_steps_per_s,
                                         timing.steps_per_chunk, timing.device),
                        key="jax_scan_chart")
        st.caption(f"{timing.total_steps} training steps each way, alternating in 5 rounds, "
                   f"median rate, on {timing.device}. The gain is largest where a step is "
                   "cheap next to a dispatch: small networks, or a GPU waiting on Python.")
with right:
    st.code(jd.source_excerpt(train.make_engine, "def run_chunk(", "def sample_params("),
            language="python", wrap_lines=True)
