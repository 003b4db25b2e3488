"""One hostile, seeded workspace per test module: built once per session and worker (a few
seconds), each module gets its own copy (milliseconds)."""
from __future__ import annotations

import pytest

from tests.conftest import copy_workspace_folder
from tests.security.seed import seed_workspace


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory):
    """The hostile workspace as seed_workspace builds it; never handed to a test (copy it)."""
    return seed_workspace(tmp_path_factory.mktemp("seeded_template"))


@pytest.fixture(scope="module")
def seeded(seeded_template, tmp_path_factory):
    return copy_workspace_folder(seeded_template, tmp_path_factory.mktemp("seeded"))
