"""Streamlit-side helpers shared by pages (custom components). The library stays in bnnlab."""
