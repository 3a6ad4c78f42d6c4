"""The training engine under its older name: everything lives in `bnnlab.engine`."""

from bnnlab.engine import *  # noqa: F403
from bnnlab.engine import (  # noqa: F401 - names the pages and tests use
    CPU_RUN_GROUP,
    MIN_BUCKET,
    PREDICT_CHUNK,
    TRACE_COUNTS,
    Batch,
    ChunkInfo,
    ChunkResult,
    Engine,
    History,
    Hyper,
    RunResult,
    RunStart,
    StaticConfig,
    TrainState,
    advance,
    bernoulli_log_likelihood,
    binary_entropy,
    compiled,
    data_bucket,
    fit,
    make_batch,
    make_engine,
    make_hyper,
    start_run,
)
