"""bnnlab.data.upload: a CSV of x1,x2,label rows, and every rejection with its line."""

import re

import numpy as np
import pytest

from bnnlab.core import limits
from bnnlab.core.errors import DataError
from bnnlab.data import toy, upload


def test_csv_round_trip_with_header():
    """to_csv then load_csv gives back the points and labels."""
    x, y = toy.make("xor", 50, 0.0, 1)
    x2, y2 = upload.load_csv(upload.to_csv(x, y).encode())
    np.testing.assert_allclose(x2, x, atol=1e-5)
    np.testing.assert_array_equal(y2, y)


def test_csv_labels_are_whole_class_numbers():
    """Labels 0 and 1 in any spelling of a whole number ('1', '1.0', '1e0') are classes 0 and 1."""
    _, y = upload.load_csv("0,0,1\n1,1,0\n2,2,1.0\n3,3,1e0\n4,4,0.0\n")
    np.testing.assert_array_equal(y, [1, 0, 1, 1, 0])


@pytest.mark.parametrize("label", ["0.5", "nan", "NaN", "inf", "-1", "5", "a", "1.5e0"])
def test_csv_refuses_a_label_that_is_not_a_class(label):
    """0.5, nan, -1, 5 (K ≤ 5) or a word is refused with the line named, never read as a
    class."""
    with pytest.raises(DataError, match=f"line 3: label '{re.escape(label)}' is not a "
                                        "(class|number); labels must be whole numbers 0…4"):
        upload.load_csv(f"x1,x2,label\n0,0,0\n1,1,{label}\n2,2,1\n")


def test_parse_label_is_the_one_label_check():
    """parse_label takes K: with K = 5, labels 0…4 pass and 5 is refused."""
    assert [upload.parse_label(c, 1, num_classes=5) for c in ("0", "4", "3.0")] == [0, 4, 3]
    with pytest.raises(DataError, match="line 7: label '5' is not a class; .* 0…4"):
        upload.parse_label("5", 7, num_classes=5)


REJECTIONS = [
    (b"x1,x2\n1,2\n", "line 1: expected 3 columns"),
    (b"x1,x2,label\n1,2,0\n3,4\n", "line 3: expected 3 columns"),
    (b"1,2,0\n3,abc,1\n", "line 2: 'abc' is not a number"),
    (b"1,2,0\nnan,4,1\n", "line 2: coordinates must be finite"),
    (b"1,2,0\n3,inf,1\n", "line 2: coordinates must be finite"),
    (b"1,2,0\n3,1e30,1\n", "line 2: coordinates must be within"),
    (b"1,2,0\n3,4,0\n", "every row has label 0: expected at least two classes"),
    (b"1,2,1\n3,4,1\n", "labels must be 0…K−1 with no gap: .* no row has label 0"),
    (b"1,2,0\n3,4,2\n5,6,2\n", "the largest label is 2, but no row has label 1"),
    (b"1,2,0\n3,4,1\n5,6,5\n", "line 3: label '5' is not a class"),
    (b"", "no data rows"),
    (b"x1,x2,label\n", "no data rows"),
    (b"1,2,0\n\xff\xfe,3,1\n", "not UTF-8"),
    (b"1,2,0\n=cmd|'/c calc'!A0,3,1\n", "line 2: a cell looks like a spreadsheet formula"),
    (b"1,2,0\n3,4,=1+1\n", "line 2: the label must be a plain value"),
]


@pytest.mark.parametrize(("data", "message"), REJECTIONS)
def test_csv_rejections_name_the_problem(data, message):
    """Each malformed CSV raises DataError whose message names the problem (and line)."""
    with pytest.raises(DataError, match=message.replace("|", r"\|").replace("(", r"\(")):
        upload.load_csv(data)


def test_csv_rejects_too_many_rows():
    """More than 5,000 rows is refused, naming the limit and the line."""
    text = "".join(f"{i},{i},{i % 2}\n" for i in range(limits.MAX_POINTS + 1))
    with pytest.raises(DataError, match=f"more than {limits.MAX_POINTS} rows.*line 5001"):
        upload.load_csv(text.encode())


def test_csv_rejects_files_over_the_size_limit():
    """A file over 5 MB is refused before it is parsed."""
    with pytest.raises(DataError, match="limit is 5 MB"):
        upload.load_csv(b"1,2,0\n" * 1_000_000)


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_an_upload_over_the_budget_is_refused_in_rows_and_keeps_the_data():
    """Issue 29 item 6: a 5,000-row CSV too costly for the network is refused in the upload's
    own terms (its rows, not *Number of points*, which an upload does not use), says that the
    previous data stay, and they do."""
    import numpy as np

    from bnnlab.core.errors import BudgetError
    from bnnlab.lessons import playground
    from bnnlab.lessons.playground_text import upload_refusal
    from bnnlab.live import scheduler
    from bnnlab.training.config import TrainConfig

    live = playground.Session(TrainConfig(hidden=(128, 128, 128), num_samples=8),
                              slots=scheduler.Slots(1))
    try:
        run = live.run
        rng = np.random.default_rng(0)
        x = rng.normal(size=(5_000, 2)).astype(np.float32)
        y = (x[:, 0] > 0).astype(np.int32)
        with pytest.raises(BudgetError) as caught:
            live.upload((x, y))
        err = caught.value
        assert err.setting == "num_points" and 1_000 < err.at_most < 5_000
        assert live.run is run and live.uploaded is None
        message = upload_refusal("big.csv", err, 5_000)
        assert "5,000 rows" in message and f"at most {err.at_most:,}" in message
        assert "num_points" not in message and message.endswith("Keeping the previous data.")
        # the rows it names fit: the budget counts the training split of that many rows
        x_fit, y_fit = x[:err.at_most], y[:err.at_most]
        assert live.upload((x_fit, y_fit)) and live.uploaded is not None
    finally:
        live.close()
