"""Placeholder until this chapter's issue lands."""

import streamlit as st

st.title("jax_in_code")
st.info("This chapter is being written.")
