"""BNN Lab's library: Bayesian neural networks with variational inference in JAX.

Pure JAX/numpy (never imports streamlit), so a practitioner can use it on its own:

    from bnnlab import datasets, train, predict
"""

__version__ = "0.1.0"
