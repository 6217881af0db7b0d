"""scanboard's REST API: a thin FastAPI layer over the same lib calls as the pages."""
