FROM python:3.11-slim
WORKDIR /srv/whistle
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
# The otel extra: tracing turns on when OTEL_EXPORTER_OTLP_ENDPOINT is set.
RUN pip install --no-cache-dir '.[otel]'
# Safe by default: tokens required (WHISTLE_AUTH=jwt). Say whose: an identity provider
# (WHISTLE_JWT_JWKS_URL, _ISSUER, _AUDIENCE), or whistle's own key pair
# (WHISTLE_JWT_LOCAL_KEYS=/var/lib/whistle/keys on a volume; `whistle token` mints), as
# docker-compose.yml does; without either the server refuses to start and says so. Dev mode
# (no token: ADMIN) refuses to listen on 0.0.0.0.
ENV WHISTLE_HOST=0.0.0.0 WHISTLE_PORT=8000 WHISTLE_AUTH=jwt
EXPOSE 8000
# Runs as an unprivileged user (a number, so Kubernetes' runAsNonRoot can verify it). It owns
# the working directory (not the code in it: the embedded SQLite default of a plain
# `docker run` writes whistle.db there) and /var/lib/whistle/keys, the keys volume's mount point.
RUN useradd --system --uid 10001 --no-create-home --home-dir /srv/whistle --shell /usr/sbin/nologin whistle \
    && mkdir -p /var/lib/whistle/keys && chown -R 10001 /var/lib/whistle && chown 10001 /srv/whistle
USER 10001
CMD ["sh", "-c", "whistle migrate && whistle serve"]
