"""A non-editable install carries everything Muster reads at run time.

The wheel must hold every file of the packages that is not Python (SQL migrations, the generated
schemas, any template added later), since an installed copy has no checkout to find them in.
`.ci/run` goes further: it installs the wheel into a fresh environment and runs `muster up`,
`muster replay` and `muster schemas --check` from outside the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def package_roots() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return [p.rstrip("*") for p in patterns]


def tracked_data_files() -> set[str]:
    """Files git tracks inside the packages that are not Python sources."""
    listed = subprocess.run(
        ["git", "ls-files", *package_roots()], cwd=ROOT, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return {f for f in listed.stdout.split() if not f.endswith((".py", ".pyi"))}


@pytest.mark.slow
def test_the_wheel_holds_every_data_file(tmp_path: Path) -> None:
    wanted = tracked_data_files()
    assert "projections/migrations/0001_read_models.sql" in wanted
    assert "schemas/events.schema.json" in wanted
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("muster-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(wanted - shipped) == [], "add them to [tool.setuptools.package-data]"


def test_run_time_files_are_found_through_their_packages() -> None:
    import schemas
    from deploy.schemas import SCHEMAS_DIR
    from projections import replay

    assert Path(schemas.__file__).resolve().parent == SCHEMAS_DIR
    assert replay.MIGRATIONS.parent == Path(replay.__file__).resolve().parent
    assert any(replay.MIGRATIONS.glob("*.sql"))


def test_an_installed_copy_writes_schemas_only_where_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy import schemas as cmd

    installed = tmp_path / "site-packages" / "schemas"
    installed.mkdir(parents=True)
    monkeypatch.setattr(cmd, "SCHEMAS_DIR", installed)
    assert cmd.run_schemas(check=False) == 1
    assert "pass --out DIR" in capsys.readouterr().err
    assert cmd.run_schemas(check=False, directory=tmp_path / "out") == 0
    assert cmd.run_schemas(check=True, directory=tmp_path / "out") == 0
