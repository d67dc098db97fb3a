"""Streamlit dashboard (reads only): the one place Streamlit is imported."""
