"""Placeholder until this chapter's issue lands."""

import streamlit as st

st.title("ch2_bayesian_training")
st.info("This chapter is being written.")
