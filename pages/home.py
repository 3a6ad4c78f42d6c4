"""Home page: the talk's agenda as four chapter cards."""

import streamlit as st

st.title("BNN Lab")
st.markdown(
    "An interactive lab for **Bayesian inference in neural networks**: from Bayes' theorem to a "
    "Bayesian neural network trained live with variational inference in JAX."
)
