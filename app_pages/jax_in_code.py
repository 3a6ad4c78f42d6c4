"""JAX in code: `grad`, `jit`, `vmap` and `lax.scan`, each measured live on the server's device
with the real bnnlab source beside it.

A measurement runs on a worker of the server-wide accelerator pool (`bnnlab.live.scheduler`),
never on this script's thread: a rerun, a closed tab or another click cannot leak its slot. Each
visitor's Measure clicks queue up and run one at a time (`bnnlab.lessons.jax_timing`); a fragment
follows the one that runs.
"""

from __future__ import annotations

import jax
import streamlit as st

from bnnlab.core import runtime
from bnnlab.figures import jax_demos as figs
from bnnlab.lessons import jax_demos as jd
from bnnlab.lessons import jax_timing as jt
from bnnlab.live import scheduler
from bnnlab.methods import vi
from bnnlab.training import chunks, engine

SS = st.session_state


@st.fragment(run_every=0.5)
def follow(kind: str) -> None:
    """While this section's measurement waits or runs, say which; when done, rerun the page."""
    pending = jt.pending_measurement(SS, kind)
    if pending is None:
        return
    if pending.state == "done":
        st.rerun()
    elif pending.state == "waiting":
        st.info(jt.waiting_message(pending.slots.capacity, jt.MEASUREMENT_WAIT_S),
                icon=":material/hourglass_top:")
    else:
        st.progress(pending.progress,
                    text=jt.progress_text(pending.label, runtime.device_label()))


def measure_button(kind: str) -> None:
    """The section's Measure button and, below it, the state of its measurement."""
    st.button("Measure", key=f"jax_measure_{kind}", type="primary", on_click=jt.request,
              args=(SS, kind))
    if jt.pending_measurement(SS, kind) is not None:
        follow(kind)
    elif kind in SS.get(jt.QUEUE_KEY, []):
        st.caption(jt.queued_caption(SS))


def show_result(kind: str) -> object | None:
    """The stored result, or None after showing why there is none."""
    result = SS.get(jt.result_key(kind))
    if result is None:
        if jt.pending_measurement(SS, kind) is None:
            st.info("Press **Measure** to time it on this server.")
        return None
    if isinstance(result, str):
        st.warning(result)
        return None
    if others := SS.get(jt.shared_key(kind)):
        st.caption(jt.shared_caption(others))
    return result


def metrics_row(metrics: list[jt.Metric]) -> None:
    """One st.metric per entry, side by side, each with its caption below if it has one."""
    for column, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        column.metric(metric.label, metric.value, help=metric.help)
        if metric.caption:
            column.caption(metric.caption)


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
    c1.selectbox("Hidden layers", list(jt.NETWORKS),
                 index=list(jt.NETWORKS).index(jt.DEFAULT_NETWORK), key="jax_hidden",
                 persist_state="session",
                 help="The playground's default is 32,32.")
    c2.selectbox("Training points", jt.POINT_CHOICES,
                 index=jt.POINT_CHOICES.index(jt.DEFAULT_POINTS), key="jax_points",
                 persist_state="session")
    st.caption(jt.size_caption(scheduler.ACCELERATOR.capacity))
size, size_notices = jt.measurement_size(SS.get("jax_hidden"), SS.get("jax_points"),
                                         SS.get("jax_scan_k", jt.DEFAULT_CHUNK))
for notice in size_notices:
    st.warning(notice)
size_label = size.describe()
jt.collect_and_start(SS, size, scheduler.ACCELERATOR, jt.MEASUREMENT_WAIT_S)

# ---------------------------------------------------------------------------------- 1 · grad
st.header("1 · `grad`: derivatives without algebra")
left, right = st.columns([1, 1], gap="large")
with left:
    fn_name = jd.grad_function_name(st.selectbox(
        "Function", list(jd.GRAD_FUNCTIONS), format_func=lambda n: jd.GRAD_FUNCTIONS[n].label,
        key="jax_grad_fn", persist_state="session"))
    spec = jd.GRAD_FUNCTIONS[fn_name]
    point = st.slider(f"Point {spec.variable}", spec.lo, spec.hi, spec.default_x,
                      (spec.hi - spec.lo) / 200, key=f"jax_grad_x0_{fn_name}",
                      persist_state="session")
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
    if spec.note:
        st.caption(spec.note)
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
        f"One Bayes-by-Backprop step (`bnnlab.methods.vi.step`: draw {jt.NUM_SAMPLES} weight "
        f"samples, ELBO, gradient, Adam) on a {size_label}. Without `jit`, JAX runs it op by op "
        "from Python; with `jax.jit` it traces the step once, XLA compiles it into one fused "
        "program, and every later call runs that program."
    )
    measure_button("jit")
    timing = show_result("jit")
    if timing is not None:
        metrics_row(jt.jit_metrics(timing))
        st.plotly_chart(figs.jit_figure(timing.eager_first_s, timing.eager_median_s,
                                        timing.jit_first_s, timing.jit_median_s, timing.device),
                        key="jax_jit_chart")
        metrics_row(jt.recompile_metrics(timing))
        st.caption(f"Measured on {timing.device}, {timing.num_params:,} parameters.")
    st.markdown(
        "**The compile cache.** `jax.jit` keeps one compiled program per *shape and static "
        "argument*; values are arguments. The playground goes one step further: "
        "`bnnlab.training.engine.compiled(StaticConfig)` is a process-wide cache of jitted "
        "engines keyed by what changes shapes (layers, sample count, chunk length K, a "
        "power-of-two data bucket). Learning rate, β, prior σ and the data values are traced "
        "arguments, so moving those sliders reuses the compiled engine; only a new architecture "
        "or sample count pays the compile time once, and then it is cached for every visitor."
    )
with right:
    st.code(jd.source_of(vi.step_from_noise), language="python", wrap_lines=True)
    st.code(jd.source_of(engine.StaticConfig), language="python", wrap_lines=True)

# ---------------------------------------------------------------------------------- 3 · vmap
st.header("3 · `vmap`: all Monte Carlo samples at once")
left, right = st.columns([1, 1], gap="large")
with left:
    st.markdown(
        "The ELBO needs E_q[log P(Y | X, θ)], estimated from S weight samples θ_s ~ q. A Python "
        "loop calls the (jitted) log-likelihood S times; `jax.vmap` turns the per-sample "
        "function into one batched function, so the S forward passes become a few large "
        f"matrix products in one call. Timed for S = "
        f"{', '.join(map(str, jt.SAMPLE_COUNTS))} on a {size_label}."
    )
    measure_button("vmap")
    timing = show_result("vmap")
    if timing is not None:
        metrics_row(jt.vmap_metrics(timing))
        st.plotly_chart(figs.vmap_figure(timing.num_samples, timing.loop_s, timing.vmap_s,
                                         timing.device), key="jax_vmap_chart")
        st.caption(jt.vmap_caption(timing))
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
        "(`bnnlab.training.engine.compiled`) with K = 1 vs K steps per call."
    )
    st.selectbox("Steps per call K", jt.CHUNK_CHOICES,
                 index=jt.CHUNK_CHOICES.index(jt.DEFAULT_CHUNK), key="jax_scan_k",
                 persist_state="session",
                 help="Takes effect on the next Measure.")
    measure_button("scan")
    timing = show_result("scan")
    if timing is not None:
        metrics_row(jt.scan_metrics(timing))
        if note := jt.scan_gain_note(timing):
            st.caption(note)
        st.plotly_chart(figs.scan_figure(timing.one_step_steps_per_s, timing.k_steps_steps_per_s,
                                         timing.steps_per_chunk, timing.device),
                        key="jax_scan_chart")
        st.caption(jt.scan_caption(timing))
with right:
    st.code(jd.source_excerpt(chunks.make_run_chunk, "    def run_chunk(", "    return run_chunk"),
            language="python", wrap_lines=True)
