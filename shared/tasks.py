"""Celery for a service: broker on RabbitMQ, tasks on the service's own queue, run inside the app context."""

from __future__ import annotations

from celery import Celery, Task


def make_celery(service: str, config, app_factory=None) -> Celery:
    celery = Celery(service, broker=config.celery_broker_url)
    celery.conf.update(
        task_default_queue=service,
        task_acks_late=True,  # a worker that dies mid-task leaves it for another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 1.0},
        broker_connection_timeout=3,
        timezone="UTC",
    )
    if app_factory is not None:
        flask_app_holder: dict = {}

        class AppContextTask(Task):
            def __call__(self, *args, **kwargs):
                if "app" not in flask_app_holder:
                    flask_app_holder["app"] = app_factory()
                with flask_app_holder["app"].app_context():
                    return self.run(*args, **kwargs)

        celery.Task = AppContextTask
    return celery
