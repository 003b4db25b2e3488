"""One hostile, seeded workspace per test module: built once per session (a few seconds, shared
by the workers), each module gets its own copy (milliseconds)."""
from __future__ import annotations

import pytest

from engine.workspace import Workspace
from tests.conftest import built_once, copy_workspace_folder
from tests.security.seed import seed_workspace


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory):
    """The hostile workspace as seed_workspace builds it; never handed to a test (copy it)."""
    return Workspace(built_once(tmp_path_factory, "seeded", seed_workspace) / "ws" / "cdp.duckdb")


@pytest.fixture(scope="module")
def seeded(seeded_template, tmp_path_factory):
    return copy_workspace_folder(seeded_template, tmp_path_factory.mktemp("seeded"))
