"""Chapter 3: two-parameter models whose posterior is computed exactly, and every approximation
to it measured against that exact answer.

- `data`: the models' names, the data generator and the point parser;
- `model`: log-likelihood, prior and prediction (numpy and JAX);
- `quadrature`: the exact (tempered) posterior on a grid, a Gaussian Q, the ELBO decomposition;
- `fitting`: the JAX fit of Q (reverse KL, mean-field or full covariance).
"""
