from __future__ import annotations

import pytest

from tests.unit.domain.scenario import Scenario


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()
