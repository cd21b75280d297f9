"""docker-compose.yml and the Dockerfile describe a stack that can work with this repository.

No Docker engine is needed: the files are parsed and every command, module, management
command and environment variable they name is checked against the code.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import Resolver404, resolve

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
SERVICES = {"web", "worker", "beat", "backup", "postgres", "redis"}
APP_SERVICES = ("web", "worker", "beat", "backup")
# Variables a container may carry that are not settings of ours.
NOT_SETTINGS = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def settings_env_names() -> set[str]:
    """Every environment variable config/settings.py reads through config.env."""
    source = (BASE_DIR / "config" / "settings.py").read_text()
    names = set(re.findall(r"\benv_[a-z_]+\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DJANGO_SECRET_KEY"} <= names
    return names


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_lines(command) -> list[list[str]]:
    """The simple commands a service runs: ``sh -c "a && exec b"`` gives [a, b]."""
    argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        lines = []
        for part in re.split(r"&&|\|\||;", argv[2]):
            words = shlex.split(part)
            if words and words[0] == "exec":
                words = words[1:]
            if words:
                lines.append(words)
        return lines
    return [argv]


def python_file_for(module: str) -> Path:
    path = BASE_DIR.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_command(words: list[str]) -> str:
    """Assert that one command names things that exist; return what it runs."""
    program = Path(words[0]).name
    if program == "gunicorn":
        apps = [w for w in words[1:] if re.fullmatch(r"[\w.]+:\w+", w)]
        assert apps, f"gunicorn without module:attr in {words}"
        module, attr = apps[0].split(":")
        path = python_file_for(module)
        assert path.is_file(), f"{module} has no file {path}"
        assert attr in top_level_names(path), f"{path} does not define {attr}"
        return "gunicorn"
    if program == "celery":
        assert "-A" in words or "--app" in words, f"celery without -A in {words}"
        flag = "-A" if "-A" in words else "--app"
        module = words[words.index(flag) + 1].split(":")[0]
        path = BASE_DIR / module / "celery.py"
        assert path.is_file(), f"celery -A {module}: {path} is missing"
        assert "app" in top_level_names(path), f"{path} does not define app"
        sub = [w for w in words[words.index(flag) + 2 :] if not w.startswith("-")]
        assert sub and sub[0] in ("worker", "beat", "inspect"), f"unknown celery sub-command in {words}"
        return f"celery {sub[0]}"
    if program.startswith("python") and len(words) >= 3 and words[1] == "manage.py":
        assert words[2] in get_commands(), f"manage.py {words[2]} is not a management command"
        return f"manage.py {words[2]}"
    if program == "manage.py" or words[0] == "./manage.py":
        assert words[1] in get_commands(), f"manage.py {words[1]} is not a management command"
        return f"manage.py {words[1]}"
    raise AssertionError(f"unexpected command {words}")


def test_the_six_services_exist(services):
    assert SERVICES <= set(services)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_from_a_dockerfile(services, name):
    build = services[name].get("build")
    assert build, f"{name} has no build"
    context, dockerfile = (build, "Dockerfile") if isinstance(build, str) else (
        build.get("context", "."), build.get("dockerfile", "Dockerfile")
    )
    assert (COMPOSE_FILE.parent / context / dockerfile).is_file()


def test_app_services_run_what_exists(services):
    runs = {}
    for name in APP_SERVICES:
        command = services[name].get("command")
        assert command, f"{name} has no command"
        runs[name] = [check_command(words) for words in command_lines(command)]
    assert "gunicorn" in runs["web"]
    assert "manage.py migrate" in runs["web"]
    assert runs["worker"] == ["celery worker"]
    assert runs["beat"] == ["celery beat"]
    assert runs["backup"] == ["celery worker"]


def test_app_services_set_only_settings_we_read(services):
    known = settings_env_names()
    for name in APP_SERVICES:
        env = environment_of(services[name])
        unknown = set(env) - known - NOT_SETTINGS
        assert not unknown, f"{name} sets variables config/settings.py does not read: {sorted(unknown)}"
        assert env.get("DJANGO_ENV") == "production"
        for required in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
            assert env.get(required), f"{name} lacks {required}"
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:")


def test_services_have_healthchecks_and_depend_on_existing_services(services):
    for name in ("web", "worker", "backup", "postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, service in services.items():
        for needed in service.get("depends_on") or {}:
            assert needed in services, f"{name} depends on unknown service {needed}"
    assert {"postgres", "redis"} <= set(services["web"].get("depends_on") or {})


def test_web_healthcheck_asks_an_existing_url(services):
    test = " ".join(services["web"]["healthcheck"]["test"])
    paths = re.findall(r"https?://[^/'\"]+(/[^'\"]*)", test)
    assert paths, "the web healthcheck names no URL"
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"the web healthcheck asks {path}, which no URL pattern serves")


def test_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_dockerfile_builds_a_non_root_image():
    text = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"pip install \.", text)
    assert "collectstatic" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    env_names = set(re.findall(r"(?:^ENV\s+|\\\n\s+)([A-Z][A-Z0-9_]*)=", text, re.M))
    assert env_names - NOT_SETTINGS <= settings_env_names()
    cmd = re.findall(r"^CMD\s+(\[.*\])", text, re.M)
    assert cmd, "the Dockerfile has no CMD"
    check_command(ast.literal_eval(cmd[-1]))


def test_dockerignore_keeps_local_state_out():
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var"} <= ignored


def test_backup_service_takes_the_nightly_job_with_the_files_it_needs(services):
    """Beat routes core.jobs.nightly_backup to BACKUP_QUEUE; only the backup service consumes that
    queue, and it mounts the uploaded files and a volume at BACKUP_DIR (other workers do not)."""
    from django.conf import settings

    assert "core-backup" in settings.CELERY_BEAT_SCHEDULE
    queue = environment_of(services["beat"]).get("BACKUP_QUEUE")
    assert queue, "beat does not route the backup to a queue of its own"
    words = command_lines(services["backup"]["command"])[0]
    assert words[words.index("-Q") + 1] == queue
    for name in ("worker", "beat", "web"):
        assert environment_of(services[name]).get("BACKUP_QUEUE") == queue
        assert "-Q" not in command_lines(services[name]["command"])[-1]
    env = environment_of(services["backup"])
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["backup"]["volumes"]}
    assert mounts.get(env["BACKUP_DIR"]) == "backups"
    assert mounts.get(env["PORTAL_MEDIA_ROOT"]) == "media"
    assert " -d backup@" in " ".join(services["backup"]["healthcheck"]["test"])


def test_image_has_a_pg_dump_of_the_servers_major_version(services):
    """pg_dump / pg_restore in the image (the backup service runs them) are of the postgres service's
    major version: Debian bookworm ships postgresql-client 15, trixie 17."""
    text = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*postgresql-client", text)
    release = re.search(r"^FROM python:3\.11-slim-(\w+)", text, re.M)
    assert release, "pin the base image's Debian release, so that the client's version is known"
    client = {"bookworm": 15, "trixie": 17}[release.group(1)]
    server = int(re.fullmatch(r"postgres:(\d+)(\.\d+)*(-\w+)?", services["postgres"]["image"]).group(1))
    assert client == server
