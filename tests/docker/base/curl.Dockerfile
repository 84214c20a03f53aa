# Test stand-in for the curl image of the compose file's `provision` service
# (scripts/docker-e2e): Debian's curl and a POSIX shell, as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 100 --no-create-home curl_user
USER 100
ENTRYPOINT ["curl"]
