"""The benchmarks' in-process parts run against the current library (the browser parts are run
by `python -m bnnlab.bench.chapters`): a renamed method must not leave a benchmark broken."""

import pytest

from bnnlab.bench import chapters


@pytest.mark.slow
def test_digits_server_part_trains_and_times_both_predictions():
    times = chapters._digits_server_s(repeats=2)
    assert set(times) == {"predict_s", "analyse_s"}
    assert all(t > 0 for t in times.values())
