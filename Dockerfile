FROM python:3.11-slim
WORKDIR /srv/whistle
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
# The otel extra: tracing turns on when OTEL_EXPORTER_OTLP_ENDPOINT is set.
RUN pip install --no-cache-dir '.[otel]'
ENV WHISTLE_HOST=0.0.0.0 WHISTLE_PORT=8000
EXPOSE 8000
# Runs as an unprivileged user (a number, so Kubernetes' runAsNonRoot can verify it).
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin whistle
USER 10001
CMD ["sh", "-c", "whistle migrate && whistle serve"]
