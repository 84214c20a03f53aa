# Test stand-in for python:3.11-slim-bookworm (scripts/docker-e2e): Debian's
# Python 3.11 in a virtual environment first on PATH, so `pip install`
# installs for `python` as in the official image.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /usr/local/python
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python --version && pip --version
CMD ["python3"]
