# The coinbt image: the package with every extra a team deployment uses, JupyterLab, and the
# notebooks (report templates, dashboards). docker-compose.yml runs every service from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# pg_dump for native PostgreSQL backups (coinbt backup create)
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/coinbt
COPY pyproject.toml README.md ./
COPY coinbt ./coinbt
COPY notebooks ./notebooks
RUN pip install ".[storage,jobs,notebooks,dash,fetch,ops]" "jupyterlab>=4"

RUN useradd --create-home --uid 1000 coinbt \
    && mkdir -p /data /var/cache/coinbt/numba \
    && chown -R coinbt /data /var/cache/coinbt
USER coinbt
WORKDIR /home/coinbt
# numba compiles once per image user into a writable cache; the notebooks live in /opt/coinbt
ENV NUMBA_CACHE_DIR=/var/cache/coinbt/numba \
    COINBT_DATA_ROOT=/data \
    COINBT_TEMPLATES_DIR=/opt/coinbt/notebooks/templates \
    COINBT_DASHBOARDS_DIR=/opt/coinbt/notebooks/dashboards
CMD ["coinbt", "doctor"]
