"""One hostile, seeded workspace per test module (building it takes a few seconds)."""
from __future__ import annotations

import pytest

from tests.security.seed import seed_workspace


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed_workspace(tmp_path_factory.mktemp("seeded"))
