# dpa-service: migrations, then the API with its worker, as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DPA_VAR_DIR=/srv/dpa/var

WORKDIR /srv/dpa
RUN groupadd --system --gid 10001 dpa \
    && useradd --system --uid 10001 --gid dpa --home-dir /srv/dpa --no-create-home dpa

COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir --editable . \
    && mkdir -p /srv/dpa/var \
    && chown 10001:10001 /srv/dpa/var

USER 10001:10001
VOLUME ["/srv/dpa/var"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["sh", "-c", "dpa migrate && exec dpa serve --host 0.0.0.0 --port 8000"]
