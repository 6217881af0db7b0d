"""The media type of a report file, from its suffix: one map for the S3 upload's Content-Type and the Reports
page's download buttons, so a file is served as the same type whichever way it is fetched."""

from __future__ import annotations

from pathlib import PurePosixPath

DEFAULT = "application/octet-stream"
BY_SUFFIX = {
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".html": "text/html",
    ".xml": "application/xml",
    ".csv": "text/csv",
}


def media_type(name: str) -> str:
    """The media type for a file name (or path) by its suffix; octet-stream when the suffix is unknown."""
    return BY_SUFFIX.get(PurePosixPath(name).suffix, DEFAULT)
