"""A local install runs every command without DEBUG or SECRET_KEY; production stays strict.

On 0a5a311 every ``manage.py`` command, ``--help`` included, died with an ImproperlyConfigured
traceback unless DEBUG or SECRET_KEY was set, while the README said to run them just so.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, database_url_for_subprocess

pytestmark = pytest.mark.django_db


def _env(local_dir: Path | str | None, **extra: str) -> dict[str, str]:
    """The environment of someone who followed the README: no DEBUG, no SECRET_KEY."""
    drop = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "CLAUSEBOOK_LOCAL_DIR"}
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env["DATABASE_URL"] = database_url_for_subprocess()
    if local_dir is not None:
        env["CLAUSEBOOK_LOCAL_DIR"] = str(local_dir)
    env.update(extra)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def test_a_local_install_runs_commands_with_a_random_key_kept_under_var(tmp_path) -> None:
    local = tmp_path / "var"
    local.mkdir()
    helped = _manage("import_spec", "--help", env=_env(local))
    assert helped.returncode == 0, helped.stderr
    assert "usage: manage.py import_spec" in helped.stdout

    key_file = local / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "only the owner may read the key"
    key = key_file.read_text().strip()
    assert len(key) >= 50 and len(set(key)) > 20

    shown = _manage("shell", "-c", PRINT_KEY, env=_env(local))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == key, "the key is made once and reused"


def test_two_checkouts_get_two_different_keys(tmp_path) -> None:
    keys = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        result = _manage("shell", "-c", PRINT_KEY, env=_env(tmp_path / name))
        assert result.returncode == 0, result.stderr
        keys.append(result.stdout.strip().splitlines()[-1])
    assert keys[0] != keys[1], "never a hard-coded key"


def test_the_default_local_folder_is_the_checkouts_var() -> None:
    from django.conf import settings

    assert settings.LOCAL_DIR == ROOT / "var"


@pytest.mark.parametrize("local_dir", ["missing-folder", ""], ids=["no-var-folder", "never-local"])
def test_without_the_local_marker_a_command_fails_with_a_message_not_a_traceback(
    tmp_path, local_dir: str
) -> None:
    marker = str(tmp_path / local_dir) if local_dir else ""
    result = _manage("import_spec", "--help", env=_env(marker))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Clausebook is not configured: SECRET_KEY must be set to a")
    assert "make demo" in result.stderr
    assert not (tmp_path / "missing-folder").exists(), "production never creates the folder"


def test_an_explicit_weak_key_is_refused_even_in_a_local_install(tmp_path) -> None:
    result = _manage("check", env=_env(tmp_path, SECRET_KEY="short"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "at least 50 characters" in result.stderr
    assert not (tmp_path / "secret_key").exists(), "an explicit key is used, never replaced"
