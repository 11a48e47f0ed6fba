FROM python:3.11-slim
WORKDIR /srv/whistle
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
# The otel extra: tracing turns on when OTEL_EXPORTER_OTLP_ENDPOINT is set.
RUN pip install --no-cache-dir '.[otel]'
# Safe by default: tokens required (WHISTLE_AUTH=jwt), signed with whistle's own key pair,
# created on first start in the keys volume; `whistle token --role ADMIN` in the container
# mints one. Set WHISTLE_JWT_JWKS_URL (+ issuer, audience) for an identity provider, and
# WHISTLE_JWT_LOCAL_KEYS= (empty) to stop accepting local tokens. Dev mode (no token: ADMIN)
# refuses to listen on 0.0.0.0.
# The working directory is the user's (not the code in it): the embedded SQLite default of a
# plain `docker run` writes whistle.db there.
RUN useradd --system --uid 10001 --home-dir /srv/whistle whistle \
    && mkdir -p /var/lib/whistle/keys && chown -R whistle /var/lib/whistle && chown whistle /srv/whistle
USER whistle
VOLUME /var/lib/whistle/keys
ENV WHISTLE_HOST=0.0.0.0 WHISTLE_PORT=8000 \
    WHISTLE_AUTH=jwt WHISTLE_JWT_LOCAL_KEYS=/var/lib/whistle/keys
EXPOSE 8000
CMD ["sh", "-c", "whistle migrate && whistle serve"]
