"""A forked child (gunicorn worker, Celery prefork child) never reuses its parent's pool."""

import os

from sqlalchemy import text

from backend.db import get_engine


def test_a_forked_child_builds_its_own_pool_and_leaves_the_parents_alive(service_settings):
    engine = get_engine(service_settings)
    with engine.connect() as conn:
        parent_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report which server process served it, then leave
        try:
            mine = get_engine(service_settings)
            with mine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            os.write(write, f"{mine is engine} {pid}".encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    same_engine, child_backend = os.read(read, 100).decode().split()
    assert same_engine == "False" and int(child_backend) != parent_pid
    with engine.connect() as conn:  # the parent's pooled connection still works
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == parent_pid
