"""The deployment files stay in step with the code: every environment variable the settings
read is documented, and the image build steps work."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
READERS = re.compile(
    r"""(?:env_str|env_bool|env_int|env_list)\(\s*["']([A-Z0-9_]+)["']"""
    r"""|os\.environ(?:\.get)?(?:\(|\[)\s*["']([A-Z0-9_]+)["']"""
)


def _variables_read(path: Path) -> set[str]:
    return {a or b for a, b in READERS.findall(path.read_text())}


def _documented() -> set[str]:
    text = (DOCKER / ".env.example").read_text()
    return set(re.findall(r"^([A-Z0-9_]+)=", text, re.M))


def test_env_example_lists_every_variable_the_settings_read():
    read = _variables_read(ROOT / "clausebook" / "settings.py") | _variables_read(
        ROOT / "clausebook" / "localdb.py"
    )
    assert {"SECRET_KEY", "DATABASE_URL", "EMAIL_BACKEND"} <= read, "the reader regex works"
    missing = sorted(read - _documented())
    assert not missing, f"add these to docker/.env.example (with a comment): {missing}"


def test_the_dockerfile_is_multi_stage_non_root_and_collects_static_at_build_time():
    text = (DOCKER / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert "FROM python:3.12-slim" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "collectstatic" in text
    assert "gunicorn" in text


def test_compose_runs_web_worker_beat_postgres_and_redis_with_healthchecks():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert services["web"]["env_file"] == ".env"


def test_collectstatic_works_with_only_the_build_time_environment(tmp_path):
    """What the Dockerfile's collectstatic step runs: no database, a throwaway key."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        SECRET_KEY="build-only-" + secrets.token_urlsafe(64),
        DATABASE_URL="postgres://build@localhost/none",
        ALLOWED_HOSTS="build",
        STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_SETTINGS_MODULE="clausebook.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "static" / "css" / "app.css").exists()
    assert (tmp_path / "static" / "drf_spectacular_sidecar" / "swagger-ui-dist").is_dir()
