# syntax=docker/dockerfile:1
# The docker-compose demo's dbt docs site: the repo's tiny dbt project
# (tests/e2e/dbt-project), built offline with DuckDB at image build time and
# served by `dbt docs serve`, as data teams run it.
FROM python:3.11-slim-bookworm
ENV DO_NOT_TRACK=1 DBT_SEND_ANONYMOUS_USAGE_STATS=false DBT_VERSION_CHECK=false \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY tests/e2e/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && useradd --system --uid 10002 --create-home dbt
COPY --chown=dbt:dbt tests/e2e/dbt-project /srv/docs
USER 10002:10002
WORKDIR /srv/docs
RUN dbt seed --project-dir . --profiles-dir . \
 && dbt run --project-dir . --profiles-dir . \
 && dbt docs generate --project-dir . --profiles-dir .
EXPOSE 8080
CMD ["dbt", "docs", "serve", "--host", "0.0.0.0", "--port", "8080", "--no-browser", "--project-dir", ".", "--profiles-dir", "."]
