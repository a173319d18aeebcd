# syntax=docker/dockerfile:1
# One image for every service: `docker run IMAGE ballot` runs `qunping service ballot`.
# Build: docker build -t qunping:0.1.0 .   (see docs/deploy.md)

# The base image of both stages. Pin it by digest for a build you ship (docs/deploy.md, The
# image): --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>. No digest is
# written here: the registry could not be reached where this file was last changed, and a
# digest nobody resolved would be worse than the tag.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with the runtime dependencies only (never the dev or local extras:
# SecantusDB is GPL-2.0 and stays out of the image) ---
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/qunping
COPY requirements-runtime.lock /build/
# Every file is checked against the hash the lock recorded (`make lock`): a changed or
# substituted package on the index fails the build.
RUN /opt/qunping/bin/pip install --no-deps --require-hashes -r /build/requirements-runtime.lock
COPY pyproject.toml README.md /build/
COPY qunping /build/qunping
COPY services /build/services
RUN /opt/qunping/bin/pip install --no-deps /build \
    && /opt/qunping/bin/python -m compileall -q /opt/qunping/lib

# --- runtime: the virtualenv and an unprivileged user, nothing else ---
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 qunping \
    && useradd --system --uid 10001 --gid qunping --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin qunping
COPY --from=builder /opt/qunping /opt/qunping
# Where compose keeps the checkpoint signing key (a volume; Kubernetes mounts a Secret).
RUN mkdir -m 0700 /var/lib/qunping && chown 10001:10001 /var/lib/qunping
# The root filesystem may be read-only: bytecode was compiled in the builder, nothing else
# is written except to /tmp (a tmpfs or emptyDir in deployments).
ENV PATH=/opt/qunping/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    QUNPING_HTTP_PORT=8000
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# Exec form: nameko is PID 1 and receives SIGTERM itself, so it drains running workers.
ENTRYPOINT ["qunping", "service"]
