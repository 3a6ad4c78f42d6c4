"""Placeholder until this chapter's issue lands."""

import streamlit as st

st.title("what_next")
st.info("This chapter is being written.")
