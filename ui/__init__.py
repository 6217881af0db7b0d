"""Streamlit glue shared by the pages: the per-process runtime and small reusable widgets."""
