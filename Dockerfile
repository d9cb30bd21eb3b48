# One image for web, worker, beat and the migrate job; compose picks the command.
FROM python:3.11-slim

# gunicorn_conf binds 127.0.0.1 unless HOST says otherwise; unreachable in a container.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8050

WORKDIR /app

# pg_dump/pg_restore for `python -m backend backup|restore`: Debian 12's client is 15,
# the server's major version.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

# Requirements first so a code change does not reinstall every package.
COPY requirements.txt .
RUN pip install -r requirements.txt

# A fixed uid keeps ownership of named volumes stable across image rebuilds.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin desk
# Code stays root-owned: the app user can read it but not rewrite it.
COPY . .
# var/ holds beat's schedule file; it must be writable by the non-root user.
RUN mkdir -p var && chown desk:desk var

USER desk
EXPOSE 8050 9808
CMD ["gunicorn", "--config", "backend/gunicorn_conf.py", "backend:create_app()"]
