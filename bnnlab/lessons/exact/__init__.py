"""Chapter 3: two-parameter models whose posterior is computed exactly, and every approximation
to it measured against that exact answer. Each module depends only on those listed above it:

- `data`: the models' names, the data generator, the point parser and `ExactProblem`;
- `model`: log-likelihood, prior and prediction (numpy and JAX);
- `quadrature`: the exact (tempered) posterior on a grid, its moments, modes and predictive;
- `gaussian`: a Gaussian Q and expectations under it by Q's own rules;
- `decomposition`: every term of log P(D) = ELBO + KL(Q ‖ P(θ | D)), each on its own;
- `fitting`: the JAX fit of Q (reverse KL, mean-field or full covariance) and its compiled chunk;
- `target`: the tempered target log P_T and its derivatives;
- `chains`: HMC and NUTS chains on P_T, every transition recorded;
- `scoring`: KLs, ELBO, predictive and far-from-data entropy of an approximation;
- `approximations`: the table's methods, one runner each, and `run_method`;
- `lab`: the live fit that the page drives; `table`: the lazily filled `MethodTable`;
- `text`: the page's prose, captions and derivation filled in with the numbers.
"""
