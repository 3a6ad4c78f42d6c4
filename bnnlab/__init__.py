"""BNN Lab's library: Bayesian neural networks with variational inference in JAX.

Pure JAX/numpy (never imports streamlit), so a practitioner can use it on its own:

    from bnnlab import datasets, train, predict
"""

import os

# A teaching server shares its GPU between many sessions: do not let JAX grab 75% of the
# GPU's memory at start. Set XLA_PYTHON_CLIENT_PREALLOCATE=true to override.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

__version__ = "0.1.0"
