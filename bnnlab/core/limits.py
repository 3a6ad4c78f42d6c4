"""Every server-side bound on what a learner, a URL or the CLI can ask for, in one place
(DESIGN.md section 5). A method's own settings declare their bounds in its file
(`bnnlab.methods`); these are the ones every run shares."""

from __future__ import annotations

import os

MAX_POINTS = 5_000
MAX_NOISE = 1.0
MAX_CLASSES = 5  # K-class toy data (spiral, Gaussian blobs, CSV uploads): 2…5 classes
MAX_LAYERS = 4
MAX_WIDTH = 128
MAX_SAMPLES = 64
MIN_GRID, MAX_GRID = 10, 150
MAX_STEPS = 100_000
MAX_STEPS_PER_CHUNK = 1_000
MIN_LR, MAX_LR = 1e-5, 1.0
MAX_UPLOAD_BYTES = 5_000_000
MAX_SEED = 2**31 - 1
# Heavy work (training chunks, frames) running at once, server-wide: one slot per CPU core, 2 to
# 4. XLA's CPU kernels already use every core, so more slots than cores let a few heavy chunks
# crowd out everyone else (docs/BENCHMARKS.md, "Fair share"). BNNLAB_MAX_CONCURRENT_RUNS
# overrides it (e.g. on a GPU server).
MAX_CONCURRENT_RUNS = int(os.environ.get("BNNLAB_MAX_CONCURRENT_RUNS", "0")) or max(
    2, min(4, os.cpu_count() or 2))
MAX_COMPARE_GRID = 80  # the comparison page draws up to six maps per tick
# A chunk draws its random numbers for all K steps before the scan while they take at most this
# many bytes, else one step at a time: K·S·d normals for 1,000 steps × 64 samples × 50k weights
# would be 12.8 GB.
MAX_PREDRAWN_NOISE_BYTES = 64 * 2**20
# The playground's clicked points: at most this many, and (clicks and links alike) within this
# many standardised units of the data's centre, one bound for both so that every accepted click
# survives the link.
MAX_ADDED_POINTS = 500
MAX_ABS_COORD = 50.0

# The cost budget (`bnnlab.training.cost`): settings each within their bounds can together ask
# for more than the server has.
MAX_CHUNK_BYTES = 1 * 2**30  # memory of one compiled training chunk (XLA temp + arguments + out)
MAX_CHUNK_SECONDS = 0.5  # a chunk ends within this, so Pause and a closed tab act within a second
MAX_FRAME_SECONDS = 0.5  # a map (modelled) holds a slot no longer than a chunk does
MAX_RUN_SECONDS = 1_800  # a whole run (warm-up included) at the modelled speed
# Compiled engines the process keeps for later requests (`training.engine.compiled`), by their
# estimated host memory (`engine.engine_bytes`, ~4 MB per compiled executable): 11 to 13 engines
# of two or three layers that trained, drew a map and computed their metrics (~20 MB each),
# where the old bound of 32 engines let 50 architectures grow the process by 0.9 to 1 GB. An
# engine evicted costs the next learner who asks for it one compile (~1 s), shown as "compiling".
MAX_ENGINE_CACHE_BYTES = 256 * 2**20

# The live session (`bnnlab.live`). A chunk aims at CHUNK_SECONDS of wall time (at most
# MAX_CHUNK_SECONDS), so Pause, a closed tab and the idle timeout act within about that.
CHUNK_SECONDS = 0.5
SLOT_WAIT_S = 0.25  # a compile waits this long for an accelerator slot at a time
COMPILE_WAIT_S = 600.0  # a compile waits this long for a slot before it gives up
IDLE_TIMEOUT_S = 15.0  # a session not seen for this long (tab closed) stops training
# A point clicked onto the map of a run that has started trains it on for at least this many
# steps (paused or finished runs too), so the boundary visibly reacts at any time.
CLICK_TRAIN_STEPS = 500
