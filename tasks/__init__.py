"""Celery side of the desk: queues, routes, the beat schedule and the task modules."""
