"""Placeholder until this chapter's issue lands."""

import streamlit as st

st.title("ch1_bayes")
st.info("This chapter is being written.")
