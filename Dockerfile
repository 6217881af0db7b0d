# syntax=docker/dockerfile:1
# One image for the portal (`streamlit run app.py`, the default command) and for every workflow step
# (`python -m lib.worker <step> ...`, given as the container command by the WorkflowTemplate).
# Base pinned to the Python minor and the Debian release; pin a digest too (FROM ...@sha256:...) in the
# release pipeline, where the registry is reachable.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# nmap: the port scanner (connect scans only: no raw sockets, no capabilities needed).
# pango/pangoft2, harfbuzz (+subset), fontconfig, glib (gobject) and fonts: what the pip weasyprint
# loads at run time to lay out and embed fonts in the PDF report. ca-certificates: TLS to S3/SMTP/targets.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        nmap \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz0b \
        libharfbuzz-subset0 \
        libfontconfig1 \
        libglib2.0-0 \
        fonts-dejavu-core \
        fonts-liberation \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# The app runs as uid/gid 10001 (the manifests' runAsUser); the code stays owned by root, read-only to it.
RUN groupadd --system --gid 10001 scanboard \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/scanboard --create-home \
        --shell /usr/sbin/nologin scanboard \
    && mkdir -p /work /data \
    && chown 10001:10001 /work /data

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

USER 10001:10001
ENV HOME=/home/scanboard \
    SCANBOARD_DATA_DIR=/data

EXPOSE 8501

# Streamlit's own health endpoint, probed with the Python already in the image (no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true", "--browser.gatherUsageStats=false"]
