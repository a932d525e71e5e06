"""The single-host compose file (``deploy/compose.yaml``): valid against the Compose
Specification's JSON Schema (check-jsonschema's vendored ``compose-spec``), every Muster process
present with a command the CLI parses and settings that exist, and a NATS config the server
itself accepts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.unit.deploy.configs import (
    DEPLOY,
    nats_config_problems,
    parse,
    unknown_settings,
)

COMPOSE = DEPLOY / "compose.yaml"
PROCESSES = {"projector", "bot", "api", "scheduler", "worker"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # merges `<<: *muster`
    return loaded


def schema_problems(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return "" if done.returncode == 0 else done.stdout + done.stderr


def muster_services() -> dict[str, dict[str, Any]]:
    return {
        n: s for n, s in compose()["services"].items() if s.get("image", "").startswith("muster")
    }


def test_valid_against_the_compose_specification() -> None:
    assert schema_problems(COMPOSE) == ""


def test_the_schema_check_would_catch_a_mistake(tmp_path: Path) -> None:
    wrong = tmp_path / "compose.yaml"
    wrong.write_text(COMPOSE.read_text().replace("healthcheck:", "healthchek:", 1))
    assert "healthchek" in schema_problems(wrong)


def test_every_muster_process_runs_a_command_the_cli_parses() -> None:
    services = muster_services()
    assert set(services) == PROCESSES
    for name, service in services.items():
        argv = service["command"]
        assert parse(argv).command == name


def test_settings_exist_and_variables_are_documented() -> None:
    names = {k for s in muster_services().values() for k in s.get("environment", {})}
    unknown = unknown_settings(names)
    assert not unknown, f"not settings: {sorted(unknown)}"
    documented = {
        line.split("=")[0]
        for line in (DEPLOY / "compose.env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    assert used <= documented, f"not in compose.env.example: {sorted(used - documented)}"


def test_dependencies_exist_and_are_health_checked() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services, (name, needed)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], needed


def test_the_image_is_built_from_the_container_file() -> None:
    for service in muster_services().values():
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert (context / service["build"]["dockerfile"]).is_file()
        assert (context / "pyproject.toml").is_file()


def test_the_nats_config_is_one_the_server_accepts(tmp_path: Path) -> None:
    text = compose()["configs"]["nats-conf"]["content"].replace("$$", "$")  # compose's escape
    assert "sync_interval: always" in text  # acknowledged appends survive a power loss
    assert nats_config_problems(text, tmp_path, NATS_PASSWORD="secret") == ""
    wrong = text.replace("store_dir", "store_dirr")
    assert "store_dirr" in nats_config_problems(wrong, tmp_path, NATS_PASSWORD="secret")
