# Grace Memory Graph server image. docker-compose.yml runs it against PostgreSQL and sets
# GRAPH_DATABASE_URL; run alone, it serves a SQLite file in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Install the package first: this layer is rebuilt only when the code or its metadata change.
COPY pyproject.toml README.md ./
COPY graph ./graph
RUN pip install --no-cache-dir .

# The spec the server is generated from; point GRAPH_SCHEMAS_DIR/GRAPH_RELATIONS_FILE at a
# mounted folder to serve another one.
COPY schemas ./schemas
COPY relations.yaml ./

# Run as an unprivileged user; /data is the only place it can write.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin grace \
    && mkdir /data && chown grace:grace /data
USER grace
VOLUME ["/data"]

ENV GRAPH_SCHEMAS_DIR=/app/schemas \
    GRAPH_RELATIONS_FILE=/app/relations.yaml \
    GRAPH_DATABASE_URL=sqlite:////data/grace.db

EXPOSE 8000

# No curl in the slim image: ask Python. /healthz answers while the process is up.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# `init` is idempotent: run alone, the image creates its tables on first start; under compose the
# init service has already created and seeded them.
CMD ["sh", "-c", "grace-graph init && exec grace-graph serve --host 0.0.0.0 --port 8000"]
