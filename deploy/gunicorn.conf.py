"""gunicorn settings shared by every web process of the suite (gateway and each service).

Everything comes from the environment so one image serves every deployment; the bind
address is given on the command line by each process.
"""

import gc
import glob
import os

# Threads, not processes, absorb most of the concurrency: requests mostly wait on
# PostgreSQL or on another service, and fewer processes mean fewer database pools
# and fewer prometheus multiprocess files.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
# gunicorn silently turns "sync" with threads > 1 into gthread, so an explicit worker
# class gets one thread unless GUNICORN_THREADS says otherwise.
threads = int(os.environ.get("GUNICORN_THREADS", "8" if worker_class == "gthread" else "1"))

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Shorter than Kubernetes' terminationGracePeriodSeconds (30 s), so in-flight requests
# finish before the pod is killed.
graceful_timeout = 25
# Above the idle timeout of the usual load balancers, so they never reuse a connection
# gunicorn is closing.
keepalive = 65

# The app logs every request itself, as JSON with secrets redacted; gunicorn's access
# log would repeat it with raw query strings (tokens included).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# The root filesystem is read-only in the containers: the worker heartbeat goes to
# tmpfs (/dev/shm also avoids heartbeat stalls on overlay filesystems; it is the
# container's own, so S108 is moot).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn >= 25 opens a control socket under $HOME, which is read-only in the
# containers and shared by every gunicorn of a developer's machine: only where asked.
# (Older gunicorn versions ignore both settings.)
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


def on_starting(server):
    """Give prometheus-client an existing, empty multiprocess directory.

    Files left by an earlier run would be summed into this run's counters.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def when_ready(server):
    """With METRICS_PORT set, gunicorn's master serves the workers' summed metrics there. Every web process of the
    suite sets it (gateway 9100, identity 9301, scheduling 9302, messaging 9303, billing 9305, payments 9306):
    Prometheus then needs no web port (the gateway's is public, the services' serve /internal). One server per pod,
    started once, for every worker: they write to PROMETHEUS_MULTIPROC_DIR and this reads it at each scrape. The
    master has no app, so no collector that asks a database at scrape time belongs here (the outbox backlog is the
    events process's)."""
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Without it each worker counts alone and the master has nothing to read: refuse rather than serve zeros.
        raise RuntimeError("METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (the workers' shared metrics directory)")
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=os.environ.get("METRICS_ADDR", "0.0.0.0"), registry=registry)  # noqa: S104
    server.log.info("metrics on %s:%s", os.environ.get("METRICS_ADDR", "0.0.0.0"), port)  # noqa: S104


def post_fork(server, worker):
    """Drop database connections inherited from the master (with preload_app a pool
    created before the fork would be shared by every worker and corrupt its sockets)."""
    try:
        import shared.db
    except ImportError:  # a process without the shared library (e.g. a bare gunicorn check)
        return
    shared.db.dispose_engines_after_fork()


def post_worker_init(worker):
    """Once the worker has loaded the app, its objects (modules, SQLAlchemy's mappers and compiled statements,
    marshmallow schemas: about 150,000) move to the collector's permanent generation: a full collection then walks
    only what requests made since, instead of pausing a request for about 100 ms (it did, at the tail of every
    benchmark). Nothing frozen is ever freed, which is what these objects are anyway: alive until exit."""
    gc.freeze()


def child_exit(server, worker):
    """Let prometheus-client fold a dead worker's gauges out of /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
