# One image for api, worker and beat in the distributed mode (see compose.yaml).
FROM python:3.11-slim
WORKDIR /app
# git for the git connector.
RUN apt-get update && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY steward ./steward
COPY client ./client
COPY integrations ./integrations
COPY connectors ./connectors
COPY retrieval ./retrieval
COPY ingest ./ingest
COPY evaluation ./evaluation
COPY hygiene ./hygiene
COPY app ./app
COPY jobs ./jobs
COPY dashboard ./dashboard
COPY api ./api
COPY cli ./cli
# torch is pinned by pyproject.toml; to get a CPU-only build, point pip at a CPU wheel index at
# build time: docker compose build --build-arg PIP_EXTRA_INDEX_URL=...
ARG PIP_EXTRA_INDEX_URL=""
RUN pip install --no-cache-dir .
ENV STEWARD_HOME=/data STEWARD_API_HOST=0.0.0.0
EXPOSE 8000
CMD ["steward", "serve"]
