# The gateway's image for docker-compose.yml: Airflow 3.3 with the Celery provider, the gateway package
# (gateway, connectors, hub) and the checkout's dags/, plugins/, schemas/ and mappings/.
#
# Every third-party package comes from requirements/runtime.lock, pinned by hash (--require-hashes); the
# project itself is built into a wheel with the build backend pinned in requirements/main.lock and installed
# with --no-deps, so nothing is resolved at build time. uv comes from requirements/bootstrap.lock, as in
# `make install`. Packages are fetched from the installers' default index: no index is named here.
#
#   docker build -t xinzhou-gateway:0.1.0 .      (docker compose build does the same)

FROM python:3.11-slim AS build
ENV UV_NO_CONFIG=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/ /src/requirements/
RUN python -m venv /opt/tools \
 && /opt/tools/bin/pip install --no-cache-dir --require-hashes --no-deps -r /src/requirements/bootstrap.lock
# The build backend, setuptools (which writes wheels itself and vendors what it needs), with the hashes
# main.lock pins for it.
RUN awk '/^[^ #]/ { keep = /^setuptools==/ } keep' /src/requirements/main.lock > /tmp/build-tools.lock \
 && /opt/tools/bin/uv venv --quiet /opt/build \
 && /opt/tools/bin/uv pip install --quiet --python /opt/build/bin/python --require-hashes --no-deps \
      -r /tmp/build-tools.lock
RUN /opt/tools/bin/uv venv --quiet /opt/venv \
 && /opt/tools/bin/uv pip sync --quiet --python /opt/venv/bin/python --require-hashes --compile-bytecode \
      /src/requirements/runtime.lock
COPY pyproject.toml README.md /src/
COPY gateway/ /src/gateway/
COPY connectors/ /src/connectors/
COPY hub/ /src/hub/
COPY schemas/ /src/schemas/
COPY mappings/ /src/mappings/
RUN /opt/tools/bin/uv build --quiet --wheel --no-build-isolation --python /opt/build/bin/python -o /dist /src \
 && /opt/tools/bin/uv pip install --quiet --python /opt/venv/bin/python --no-deps --compile-bytecode /dist/*.whl

FROM python:3.11-slim
# Airflow's conventional uid 50000 (group 0), as in Apache Airflow's own image and compose file.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow \
 && install -d -o 50000 -g 0 -m 0770 /srv/gateway /srv/dropzone /srv/landing /srv/keys /srv/hub /opt/airflow/logs
COPY --from=build /opt/venv /opt/venv
COPY dags/ /opt/airflow/dags/
COPY plugins/ /opt/airflow/plugins/
COPY schemas/ /opt/gateway/schemas/
COPY mappings/ /opt/gateway/mappings/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    GATEWAY_HOME=/srv/gateway \
    GATEWAY_SCHEMAS_DIR=/opt/gateway/schemas \
    GATEWAY_MAPPINGS_DIR=/opt/gateway/mappings
USER 50000:0
WORKDIR /opt/airflow
CMD ["airflow", "version"]
