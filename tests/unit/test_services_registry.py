"""shared/services.py is the one list of the suite's services: what is built from it is current, and it lists
exactly the services that exist."""

from __future__ import annotations

from pathlib import Path

from gateway.routes import ROUTES
from shared.config import SERVICE_PORTS
from shared.services import PROCFILE, SERVICES, Service, procfile_lines, procfile_text

ROOT = Path(__file__).resolve().parents[2]


def test_the_procfile_is_made_from_the_list():
    assert PROCFILE.read_text() == procfile_text(), (
        "Procfile is stale: run `.venv/bin/python -m shared.services procfile --write`")


def test_every_service_folder_is_listed_and_every_listed_service_has_its_folder():
    folders = {p.parent.name for p in (ROOT / "services").glob("*/app.py")}
    listed = {s.name for s in SERVICES if s.name != "gateway"}
    assert folders == listed, f"services/ folders {sorted(folders)} but shared/services.py lists {sorted(listed)}"


def test_every_listed_process_has_its_entry_point():
    for s in SERVICES:
        if s.name == "gateway":
            continue
        folder = ROOT / "services" / s.name
        if s.events:
            assert (folder / "worker.py").is_file(), f"{s.name}: events process without services/{s.name}/worker.py"
        if s.tasks:
            assert (folder / "tasks.py").is_file(), f"{s.name}: tasks without services/{s.name}/tasks.py"


def test_ports_and_paths_are_each_one_services():
    ports = [p for s in SERVICES for p in (s.port, s.metrics_port, s.events_metrics_port) if p is not None]
    assert len(ports) == len(set(ports))
    paths = [path for path, _ in ROUTES]
    assert len(paths) == len(set(paths))
    assert SERVICE_PORTS == {s.name: s.port for s in SERVICES}


def test_a_new_service_is_one_entry():
    scheduling = Service("scheduling", 8002, tasks=True, routes=("/api/v1/portal/appointments",))
    lines = procfile_lines((scheduling,))
    assert [line.split(":", 1)[0] for line in lines] == ["smtp", "sandbox", "scheduling", "scheduling-events",
                                                          "scheduling-tasks"]
    assert "METRICS_PORT=9302" in lines[2] and "-b 127.0.0.1:8002" in lines[2]
    assert "METRICS_PORT=9102" in lines[3] and lines[3].endswith("-m services.scheduling.worker events")
    assert scheduling.processes == ("web", "events", "tasks")
