"""JAX in code: `grad`, `jit`, `vmap` and `lax.scan`, each measured live on the server's device
with the real bnnlab source beside it.

A measurement runs on a worker of the server-wide accelerator pool (`bnnlab.scheduler`), never on
this script's thread: a rerun, a closed tab or another click cannot leak its slot. Each visitor's
Measure clicks queue up and run one at a time; a fragment follows the one that runs.
"""

from __future__ import annotations

import jax
import streamlit as st

from bnnlab import jax_demos as jd
from bnnlab import runtime, scheduler, train, vi
from bnnlab.figures import jax_demos as figs

SS = st.session_state
SECTION_ORDER = ("jit", "vmap", "scan")  # the order of the Measure buttons on the page


def result_key(kind: str) -> str:
    return f"jax_{kind}_result"


def request(kind: str) -> None:
    """on_click of a Measure button: queue the measurement (once) for this visitor."""
    queue = SS.setdefault("jax_queue", [])
    pending = SS.get("jax_pending")
    if kind not in queue and not (pending is not None and pending.kind == kind):
        queue.append(kind)


def collect_and_start(size: jd.MeasurementSize) -> None:
    """Store a finished measurement's outcome, then start the next queued one (if any)."""
    pending = SS.get("jax_pending")
    if pending is not None and pending.state == "done":
        SS[result_key(pending.kind)] = pending.outcome()
        SS[result_key(pending.kind) + "_shared"] = pending.others_at_start
        SS["jax_pending"] = pending = None
    queue = SS.setdefault("jax_queue", [])
    if pending is None and queue:
        kind = queue.pop(0)
        try:
            SS["jax_pending"] = jd.start_measurement(kind, size, scheduler.ACCELERATOR,
                                                     wait_timeout=jd.MEASUREMENT_WAIT_S)
        except RuntimeError as err:  # no worker thread to be had
            SS[result_key(kind)] = f"The measurement could not start ({err}); try again."


@st.fragment(run_every=0.5)
def follow(kind: str) -> None:
    """While this section's measurement waits or runs, say which; when done, rerun the page."""
    pending = SS.get("jax_pending")
    if pending is None or pending.kind != kind:
        return
    if pending.state == "done":
        st.rerun()
    elif pending.state == "waiting":
        slots = pending.slots
        st.info(f"Waiting for the accelerator: all {slots.capacity} of its slots are busy with "
                "other visitors' training or measurements. Yours starts as soon as one is free "
                f"(at most {jd.MEASUREMENT_WAIT_S:.0f} s).", icon=":material/hourglass_top:")
    else:
        st.progress(pending.progress, text=f"Measuring {pending.label} on "
                                           f"{runtime.device_label()}…")


def measure_button(kind: str) -> None:
    """The section's Measure button and, below it, the state of its measurement."""
    st.button("Measure", key=f"jax_measure_{kind}", type="primary", on_click=request,
              args=(kind,))
    pending = SS.get("jax_pending")
    if pending is not None and pending.kind == kind:
        follow(kind)
    elif kind in SS.get("jax_queue", []):
        ahead = pending.label if pending is not None else "another measurement"
        st.caption(f"Queued: runs after your measurement of {ahead}.")


def show_result(kind: str) -> object | None:
    """The stored result, or None after showing why there is none."""
    result = SS.get(result_key(kind))
    if result is None:
        if SS.get("jax_pending") is None or SS["jax_pending"].kind != kind:
            st.info("Press **Measure** to time it on this server.")
        return None
    if isinstance(result, str):
        st.warning(result)
        return None
    others = SS.get(result_key(kind) + "_shared")
    if others:
        st.caption(f"{others} other job(s) were using the accelerator when this measurement "
                   "started, so these times are slower than on an idle server.")
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
    c1.selectbox("Hidden layers", list(jd.NETWORKS),
                 index=list(jd.NETWORKS).index(jd.DEFAULT_NETWORK), key="jax_hidden",
                 persist_state="session",
                 help="The playground's default is 32,32.")
    c2.selectbox("Training points", jd.POINT_CHOICES,
                 index=jd.POINT_CHOICES.index(jd.DEFAULT_POINTS), key="jax_points",
                 persist_state="session")
    st.caption(
        f"Sizes stop at {max(jd.POINT_CHOICES)} points and {list(jd.NETWORKS)[-1]} hidden units "
        "so that one measurement takes a few seconds on a 2-core CPU: measurements share the "
        f"server's accelerator ({scheduler.ACCELERATOR.capacity} slots) with everyone's "
        "training, and a bigger network would not change the lesson.")
size, size_notices = jd.measurement_size(SS.get("jax_hidden"), SS.get("jax_points"),
                                         SS.get("jax_scan_k", jd.DEFAULT_CHUNK))
for notice in size_notices:
    st.warning(notice)
size_label = size.describe()
collect_and_start(size)

# ---------------------------------------------------------------------------------- 1 · grad
st.header("1 · `grad`: derivatives without algebra")
left, right = st.columns([1, 1], gap="large")
with left:
    fn_name = st.selectbox("Function", list(jd.GRAD_FUNCTIONS),
                           format_func=lambda n: jd.GRAD_FUNCTIONS[n].label, key="jax_grad_fn",
                           persist_state="session")
    spec = jd.GRAD_FUNCTIONS.get(fn_name) or jd.GRAD_FUNCTIONS["elbo_bug_free"]
    fn_name = fn_name if fn_name in jd.GRAD_FUNCTIONS else "elbo_bug_free"
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
        f"One Bayes-by-Backprop step (`bnnlab.vi.step`: draw {jd.NUM_SAMPLES} weight samples, "
        f"ELBO, gradient, Adam) on a {size_label}. Without `jit`, JAX runs it op by op from "
        "Python; with `jax.jit` it traces the step once, XLA compiles it into one fused "
        "program, and every later call runs that program."
    )
    measure_button("jit")
    timing = show_result("jit")
    if timing is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("median step, no jit", ms(timing.eager_median_s))
        c2.metric("median step, jax.jit", ms(timing.jit_median_s))
        c3.metric("jit speed-up", f"{jd.speed_up(timing.eager_median_s, timing.jit_median_s):.0f}×")
        st.plotly_chart(figs.jit_figure(timing.eager_first_s, timing.eager_median_s,
                                        timing.jit_first_s, timing.jit_median_s, timing.device),
                        key="jax_jit_chart")
        c1, c2 = st.columns(2)
        c1.metric("call with a new learning rate", ms(timing.new_learning_rate_s),
                  help="A traced argument: same shapes, same compiled program.")
        c1.caption(f"Traced {timing.traces_after_new_learning_rate} time(s) so far: no "
                   "recompile.")
        c2.metric(f"call with {jd.NUM_SAMPLES + 1} samples instead of {jd.NUM_SAMPLES}",
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
        f"matrix products in one call. Timed for S = "
        f"{', '.join(map(str, jd.SAMPLE_COUNTS))} on a {size_label}."
    )
    measure_button("vmap")
    timing = show_result("vmap")
    if timing is not None:
        last = -1
        c1, c2, c3 = st.columns(3)
        c1.metric(f"loop, S = {timing.num_samples[last]}", ms(timing.loop_s[last]))
        c2.metric(f"vmap, S = {timing.num_samples[last]}", ms(timing.vmap_s[last]))
        c3.metric("vmap speed-up", f"{jd.speed_up(timing.loop_s[last], timing.vmap_s[last]):.1f}×")
        st.plotly_chart(figs.vmap_figure(timing.num_samples, timing.loop_s, timing.vmap_s,
                                         timing.device), key="jax_vmap_chart")
        st.caption(f"Same estimate either way: the largest difference between loop and vmap is "
                   f"{jd.max_estimate_difference(timing):.2g} (float32 rounding). Measured on "
                   f"{timing.device}.")
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
    st.selectbox("Steps per call K", jd.CHUNK_CHOICES,
                 index=jd.CHUNK_CHOICES.index(jd.DEFAULT_CHUNK), key="jax_scan_k",
                 persist_state="session",
                 help="Takes effect on the next Measure.")
    measure_button("scan")
    timing = show_result("scan")
    if timing is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("steps/s, 1 step per call", f"{timing.one_step_steps_per_s:,.0f}")
        c2.metric(f"steps/s, {timing.steps_per_chunk} steps per call",
                  f"{timing.k_steps_steps_per_s:,.0f}")
        c3.metric("scan speed-up", f"{timing.speed_up:.1f}×")
        if timing.speed_up < 1.3:
            st.caption("Little gain here: on this device one step of this network costs far "
                       "more than a dispatch. Try Hidden layers "
                       f"{list(jd.NETWORKS)[0]} and {min(jd.POINT_CHOICES)} points above.")
        st.plotly_chart(figs.scan_figure(timing.one_step_steps_per_s, timing.k_steps_steps_per_s,
                                         timing.steps_per_chunk, timing.device),
                        key="jax_scan_chart")
        st.caption(f"{timing.total_steps} training steps each way, alternating in "
                   f"{jd.SCAN_ROUNDS} rounds, "
                   f"median rate, on {timing.device}. The gain is largest where a step is "
                   "cheap next to a dispatch: small networks, or a GPU waiting on Python.")
with right:
    st.code(jd.source_excerpt(train.make_engine, "def run_chunk(", "def sample_params("),
            language="python", wrap_lines=True)
