# Test stand-in for rust:<version>-slim-bookworm (scripts/docker-e2e): Debian's
# C toolchain plus the Rust toolchain of the machine running the test, copied
# into the build context as toolchain/ (bin/ and lib/ of its sysroot).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY toolchain/ /usr/local/rust/
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN rustc --version && cargo --version
