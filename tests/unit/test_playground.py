"""bnnlab.playground: the playground's data, clicked points and their URL format."""

import numpy as np

from bnnlab.core import limits
from bnnlab.lessons import playground
from bnnlab.training import links
from bnnlab.training.config import TrainConfig

CFG = TrainConfig(num_points=120, hidden=(8,), num_samples=2, steps_per_chunk=10, steps=35,
                  grid_size=16)


def test_build_data_appends_clicked_points_to_training_set():
    """Clicked points join the training set with their labels; the test set is unchanged."""
    plain = playground.build_data(CFG)
    added = playground.build_data(CFG, [(0.5, 0.5, 1), (-1.0, 2.0, 0)])
    assert len(added.x_train) == len(plain.x_train) + 2
    np.testing.assert_array_equal(added.y_train[-2:], [1, 0])
    np.testing.assert_array_equal(added.x_test, plain.x_test)


def test_data_or_architecture_changes_need_a_reset():
    """Changing the dataset, the widths or the method starts a new run; lr, β, σ do not."""
    for change in ({"dataset": "xor"}, {"hidden": (16,)}, {"method": "map"}, {"seed": 3}):
        assert playground.needs_reset(CFG, CFG.replace(**change))
    assert not playground.needs_reset(CFG, CFG.replace(lr=0.003, kl_weight=0.001,
                                                       prior_std=0.5, steps_per_chunk=20))


def test_added_points_url_round_trip_and_garbage():
    """Clicked points survive the URL; malformed entries are dropped with a notice."""
    points = [(0.123, -1.5, 1), (2.0, 0.0, 0)]
    assert links.decode_added(links.encode_added(points)) == (points, None)
    kept, notice = links.decode_added("1:2:1;x:y:z;3:4:7;1e9:0:1;;5:6")
    assert kept == [(1.0, 2.0, 1)] and "Ignored 4" in notice


def test_one_bound_for_clicks_and_links():
    """A point is accepted by a click exactly when a link carrying it is accepted too."""
    edge = limits.MAX_ABS_COORD
    for x, y in ((edge, -edge), (edge + 0.001, 0.0), (374.831, -0.145), (3.4e38, 0.0),
                 (np.nan, 0.0), (0.0, np.inf)):
        from_link, _ = links.decode_added(f"{x}:{y}:0")
        assert links.in_bounds(x, y) == (len(from_link) == 1), (x, y)
    assert links.in_bounds(edge, -edge) and not links.in_bounds(374.831, -0.145)
