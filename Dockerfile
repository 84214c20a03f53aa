# syntax=docker/dockerfile:1
# scimgate: a static-enough release binary on a slim runtime, run as a non-root user.
#
#   docker build -t scimgate .
#   docker run -p 8080:8080 -v scimgate-data:/var/lib/scimgate scimgate
#
# The build stage runs scripts/build-release, the same command CI runs. The image gets
# the binary without debug info; its symbols (scimgate.debug) are kept by the build:
#
#   docker build --target symbols --output type=local,dest=./symbols .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/build-release && install -m 0755 target/release/scimgate /usr/local/bin/scimgate \
 && install -D -m 0644 target/release/scimgate.debug /symbols/scimgate.debug

# The debug info of the shipped binary, for `--target symbols --output ...` (not in the image).
FROM scratch AS symbols
COPY --from=build /symbols/ /

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/scimgate --shell /usr/sbin/nologin scimgate \
 && install -d -o scimgate -g scimgate -m 0700 /var/lib/scimgate
COPY --from=build /usr/local/bin/scimgate /usr/local/bin/scimgate
COPY policies /etc/scimgate/policies
ENV SCIMGATE_DATA=/var/lib/scimgate \
    SCIMGATE_POLICIES=/etc/scimgate/policies \
    SCIMGATE_LISTEN=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/scimgate
VOLUME ["/var/lib/scimgate"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/scimgate"]
CMD ["serve"]
