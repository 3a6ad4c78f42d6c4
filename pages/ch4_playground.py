"""Placeholder until this chapter's issue lands."""

import streamlit as st

st.title("ch4_playground")
st.info("This chapter is being written.")
