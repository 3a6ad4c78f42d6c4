"""Chapter 3's Plotly builders (bnnlab.figures.toy): every axis says what it shows."""

import numpy as np

from bnnlab.figures import toy


def test_posterior_figure_titles_its_axes_with_the_parameters():
    """The exact posterior's axes are titled with the model's two parameter names."""
    theta = np.linspace(-1.0, 1.0, 5)
    fig = toy.posterior_figure(theta, theta, np.ones((5, 5)), ("w", "b"), np.zeros(2),
                               np.eye(2), np.zeros((3, 2)))
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("w", "b")


def test_decomposition_figure_titles_every_axis():
    """Both panels of the ELBO decomposition say their unit (nats); the shared x axis is the
    step."""
    steps, values = np.arange(3), np.zeros(3)
    fig = toy.decomposition_figure(steps, values, values, values, values, values)
    assert fig.layout.yaxis.title.text == fig.layout.yaxis2.title.text == "nats"
    assert fig.layout.xaxis2.title.text == "step"
