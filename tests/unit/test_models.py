"""bnnlab.models: the flat-vector view of the MLP agrees with Flax exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from bnnlab.core import models


@pytest.mark.slow
@pytest.mark.parametrize("hidden,activation", [((32, 32), "tanh"), ((8,), "relu"),
                                               ((16, 8, 4), "gelu")])
def test_batched_logits_equal_flax_apply(hidden, activation):
    """batched_logits(θ[S], x) equals vmap(MLP.apply) over S parameter vectors to 1e-5."""
    model = models.make_mlp(hidden, activation)
    flat = models.make_flat_mlp(model)
    reference_fn, _ = models.make_logits_fn(model, jax.random.key(0))
    thetas = 0.7 * jax.random.normal(jax.random.key(1), (5, flat.num_params))
    x = jax.random.normal(jax.random.key(2), (37, 2))
    expected = jax.vmap(reference_fn, in_axes=(0, None))(thetas, x)
    np.testing.assert_allclose(jax.jit(flat.batched_logits)(thetas, x), expected, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(flat.logits_fn, in_axes=(0, None))(thetas, x),
                               expected, atol=1e-6)


@pytest.mark.slow
def test_batched_logits_gradient_equals_flax():
    """The gradient of a loss through batched_logits equals the one through MLP.apply."""
    model = models.make_mlp((32, 32))
    flat = models.make_flat_mlp(model)
    reference_fn, _ = models.make_logits_fn(model, jax.random.key(0))
    thetas = 0.5 * jax.random.normal(jax.random.key(1), (4, flat.num_params))
    x = jax.random.normal(jax.random.key(2), (64, 2))

    def loss(fn):
        return lambda th: jnp.sum(jax.nn.log_sigmoid(fn(th, x)))

    ours = jax.grad(loss(flat.batched_logits))(thetas)
    expected = jax.grad(loss(jax.vmap(reference_fn, in_axes=(0, None))))(thetas)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@pytest.mark.slow
def test_flat_layout_is_ravel_pytree_of_flax_params():
    """num_params and the order of θ are those of ravel_pytree(model.init(...))."""
    model = models.make_mlp((16, 8))
    flat = models.make_flat_mlp(model)
    params = model.init(jax.random.key(3), jnp.zeros((1, 2), jnp.float32))["params"]
    theta, _ = ravel_pytree(params)
    assert flat.num_params == theta.shape[0] == models.num_params((16, 8))
    x = jax.random.normal(jax.random.key(4), (10, 2))
    np.testing.assert_allclose(flat.logits_fn(theta, x), model.apply({"params": params}, x),
                               atol=1e-6)
