# syntax=docker/dockerfile:1
# leadsync in a container, for schedulers (Kubernetes CronJob, `docker run` from cron or a timer).
#
#   docker build -t leadsync .
#   docker run --rm \
#     -v /srv/leadsync/config:/config:ro -v /srv/leadsync/data:/data -v /srv/leadsync/reports:/reports \
#     -e LEADSYNC_PASSWORD leadsync sync --job spring-nightly
#
# Volumes: /config holds leadsync.toml (read-only is fine), /data the drop and archive folders,
# /reports the report folders and the job locks (.locks/). In the config, use absolute paths
# under /data and /reports. The process runs as uid/gid 10001: bind-mounted /data and /reports
# must be writable by it. Secrets come from the environment (LEADSYNC_PASSWORD, LEADSYNC_API_KEY),
# never from the image. See docs/operations.md.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LEADSYNC_CONFIG=/config/leadsync.toml

# An unprivileged user owning the writable volumes.
RUN groupadd --system --gid 10001 leadsync \
    && useradd --system --uid 10001 --gid leadsync --home-dir /home/leadsync --create-home \
        --shell /usr/sbin/nologin leadsync \
    && mkdir -p /config /data /reports \
    && chown leadsync:leadsync /data /reports

# Only what `pip install .` needs (.dockerignore keeps everything else out of the context);
# the runtime dependencies only, no dev extras; the sources are removed once installed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY leadsync ./leadsync
RUN pip install . && rm -rf /src

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /data
VOLUME ["/config", "/data", "/reports"]

HEALTHCHECK --interval=1m --timeout=30s --start-period=10s --retries=3 CMD ["leadsync", "--version"]

ENTRYPOINT ["leadsync"]
CMD ["--help"]
