import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ENCRYPTION_KEYS", "DEBUG")}
    env.pop("ONEPROFILE_TESTING", None)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_KEY = "x" * 60
PRODUCTION_ENCRYPTION_KEY = "OwhNVCXTQOTFZ1TaWyBZ1dqMrzBTG6Dp4vaxqF9DS2A="


@pytest.mark.parametrize(
    "missing, present",
    [
        ("SECRET_KEY", {"ENCRYPTION_KEYS": PRODUCTION_ENCRYPTION_KEY}),
        ("ENCRYPTION_KEYS", {"SECRET_KEY": PRODUCTION_KEY}),
    ],
)
def test_production_refuses_missing_secret(missing, present):
    result = run_manage("check", DEBUG="false", ALLOWED_HOSTS="example.com", **present)

    assert result.returncode != 0
    assert f"{missing} is missing" in result.stderr


def test_production_check_deploy_has_no_warnings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=PRODUCTION_KEY + "-unique-enough-for-the-deploy-check",
        ENCRYPTION_KEYS=PRODUCTION_ENCRYPTION_KEY,
        ALLOWED_HOSTS="example.com",
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_development_starts_with_no_variables():
    result = run_manage("check")

    assert result.returncode == 0, result.stderr


def test_makemigrations_is_clean():
    result = run_manage("makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr


def test_malformed_encryption_key_is_rejected_at_start():
    result = run_manage("check", ENCRYPTION_KEYS="not-a-key")

    assert result.returncode != 0
    assert "ENCRYPTION_KEYS entry 1 is not a valid Fernet key" in result.stderr
