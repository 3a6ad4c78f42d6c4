"""Placeholder until this chapter's issue lands."""

import streamlit as st

st.title("ch3_variational_inference")
st.info("This chapter is being written.")
