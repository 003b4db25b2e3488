"""Shared fixtures: a fresh workspace, users of each role, a logged-in AppTest."""
from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import shutil
import uuid
import warnings
from datetime import date
from pathlib import Path

import bcrypt
import pytest

from engine.access import User
from engine.access import users as user_store
from engine.workspace import Workspace, open_workspace
from tests.app_timeout import APP_TIMEOUT
from tests.child_process import RUN_MARKER, sweep_orphans

ROOT = Path(__file__).resolve().parents[1]
DEMO_PASSWORDS = {username: password for username, _, _, password, _ in user_store.DEMO_USERS}
SAMPLE_BUILD_DAY = date(2027, 3, 14)     # an injected build clock for the committed-size sample


LONG_MARKS = ("slow", "browser")
os.environ[RUN_MARKER] = uuid.uuid4().hex     # this worker's: inherited by every process its tests start


@pytest.fixture(autouse=True, scope="module")
def _no_process_outlives_its_module():
    """A server or browser a module's tests left running (its parent gone) is killed, and named:
    left over, it would take the cores from every later test."""
    yield
    left = [command for command in sweep_orphans() if "crashpad" not in command]  # Chromium's idle daemon
    if left:
        warnings.warn(f"killed {len(left)} process(es) left running: {'; '.join(left[:5])}", stacklevel=1)


def pytest_sessionfinish(session):
    sweep_orphans()


def pytest_collection_modifyitems(items):
    """Modules holding a `slow` or `browser` test run first: under `--dist worksteal` a long test
    that starts last leaves the other worker idle, one that starts first is balanced by stealing.
    Whole modules move, so module-scoped fixtures are still built once per module."""
    long_modules = {getattr(item, "module", None) for item in items
                    if any(item.get_closest_marker(m) for m in LONG_MARKS)}
    items.sort(key=lambda item: getattr(item, "module", None) not in long_modules)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """An empty workspace file migrated once per test session (each xdist worker builds its own,
    from the migrations of the code under test); copying it is ~7x cheaper than migrating."""
    path = tmp_path_factory.mktemp("template") / "cdp.duckdb"
    open_workspace(path)            # closes the connection, so the file is checkpointed and whole
    return path


def copy_workspace(template: Path, path: Path) -> Workspace:
    """A private copy of the migrated template at path (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return Workspace(path)


def copy_workspace_folder(template: Workspace, folder: Path) -> Workspace:
    """A private copy of a built workspace's whole folder (its file and the raw copies its loads
    keep) under folder: for fixtures that build data once and hand each module its own copy."""
    target = folder / template.folder.name
    shutil.copytree(template.folder, target)
    return Workspace(target / template.path.name)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder `build(folder)` fills once per test session, shared by the xdist workers: the
    first that needs it builds it while the others wait (the same CPU is not spent twice).
    Read-only to tests: copy what is in it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                      # the session's folder, above each worker's own
    folder = root / f"built-{name}"
    with open(root / f"built-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # released when the file closes
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory):
    """Factory: `(template path, build summary)` of the committed-size sample built as on `day`
    (a marketer builds it), once per day and session (built_once: each build takes seconds);
    copy the template with copy_workspace, never hand it to a test."""
    def build_into(day: date):
        def build(folder: Path) -> None:
            from engine.sample import build_sample_workspace
            summary = build_sample_workspace(folder / "sample" / "cdp.duckdb",
                                             User("marketer", "marketer", "Max Marketer"), as_of=day)
            (folder / "summary.pickle").write_bytes(pickle.dumps(summary))
        return build

    def built(day: date = SAMPLE_BUILD_DAY) -> tuple[Path, dict]:
        folder = built_once(tmp_path_factory, f"sample-{day}", build_into(day))
        return folder / "sample" / "cdp.duckdb", pickle.loads((folder / "summary.pickle").read_bytes())

    return built


@contextlib.contextmanager
def held_open(workspace: Workspace):
    """Hold the workspace open in this process while the block runs (`Workspace.hold`, as a hosted
    server does): every `workspace.connect()` is then a cursor on the open database instead of
    opening the file and checkpointing it on close (~0.1 ms instead of ~20-50 ms; an in-process
    engine test opens dozens). What changes is that nothing is checkpointed until the block ends
    and no other process can open the file meanwhile."""
    import engine.workspace.connection as connection
    workspace.hold()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(connection, "LOCK_WAIT_SECONDS", 5)   # a clash with the held file fails fast
            yield workspace
    finally:
        workspace.release()


@pytest.fixture
def workspace(request, tmp_path, migrated_template):
    """An empty, migrated workspace in a temporary folder (held open for the test under the
    `held_open` marker: see held_open)."""
    ws = copy_workspace(migrated_template, tmp_path / "ws" / "cdp.duckdb")
    if request.node.get_closest_marker("held_open"):
        with held_open(ws):
            yield ws
    else:
        yield ws


@pytest.fixture
def built_workspace(request, tmp_path, tmp_path_factory, migrated_template):
    """Factory: `built_workspace(name, build)` is a private copy of the workspace that `build(ws)`
    fills once per test session (shared by the xdist workers through built_once: give each build
    its own name), held open under the `held_open` marker like `workspace`. For a fixture every
    test of a module builds alike: a copy takes a few ms where loading and resolving take ~1 s."""
    with contextlib.ExitStack() as stack:
        def make(name: str, build) -> Workspace:
            def fill(folder: Path) -> None:
                build(copy_workspace(migrated_template, folder / "ws" / "cdp.duckdb"))
            folder = built_once(tmp_path_factory, name, fill)
            ws = copy_workspace_folder(Workspace(folder / "ws" / "cdp.duckdb"), tmp_path / f"built-{name}")
            if request.node.get_closest_marker("held_open"):
                stack.enter_context(held_open(ws))
            return ws
        yield make


@pytest.fixture
def admin():
    return User("admin", "admin", "Ada Admin")


@pytest.fixture
def marketer():
    return User("marketer", "marketer", "Max Marketer")


@pytest.fixture
def analyst():
    return User("analyst", "analyst", "Ana Analyst")


def cheap_hash(password: str) -> str:
    """A bcrypt hash at the lowest cost (4): checked in ~1 ms where the product's cost (10) takes
    ~0.1 s of CPU, and the suite logs in hundreds of times. Only for the demo users file below;
    a hash the product writes during a test keeps the product's cost."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=4)).decode("ascii")


@pytest.fixture(scope="session")
def demo_users_template(tmp_path_factory) -> Path:
    """The demo users file, written once per session and worker, its passwords hashed by cheap_hash."""
    path = tmp_path_factory.mktemp("users") / "auth.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(user_store, "hash_password", cheap_hash)
        user_store.ensure_demo_users(path)
    return path


@pytest.fixture
def demo_users(tmp_path, demo_users_template) -> Path:
    """This test's own copy of the demo users file, at tmp_path / "auth.yaml"."""
    path = tmp_path / "auth.yaml"
    shutil.copy(demo_users_template, path)
    return path


@pytest.fixture
def app_env(monkeypatch, workspace, demo_users):
    """Environment for running the app: demo users, a cookie key, the test workspace."""
    monkeypatch.setenv("CDP_AUTH_FILE", str(demo_users))
    monkeypatch.setenv("CDP_COOKIE_KEY", "test-cookie-key-" + "x" * 32)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    monkeypatch.setenv("CDP_LOGIN_SLEEP", "0")
    monkeypatch.chdir(ROOT)
    return workspace


def signed_in_state(workspace: Workspace, username: str) -> dict:
    """The session state the login form leaves after `username` logs in with the demo password:
    the same engine login (password check, epoch, audit entry), without running the app for it
    (tests/app_pages/test_login.py checks the form leaves exactly this)."""
    from engine.access.login import password_login
    outcome = password_login(workspace, username, DEMO_PASSWORDS[username], os.environ["CDP_COOKIE_KEY"])
    assert outcome.ok, outcome.message
    return {"cdp_user": outcome.user, "cdp_epoch": outcome.epoch, "authentication_status": True,
            "username": outcome.user.username, "name": outcome.user.display_name}


@pytest.fixture
def logged_in_app(app_env):
    """Factory: an AppTest of app.py logged in as `username`, optionally on `page`, after one run
    (the login's session state is seeded; test_login.py drives the form itself).

    Usage: at = logged_in_app("marketer", "app_pages/segments.py")
    """
    from streamlit.testing.v1 import AppTest

    def make(username: str = "admin", page: str | None = None, timeout: float = APP_TIMEOUT) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        for key, value in signed_in_state(app_env, username).items():
            at.session_state[key] = value
        if page:
            at.switch_page(page)
        at.run()
        assert at.session_state["authentication_status"] is True, "login failed"
        assert not at.exception, at.exception
        return at

    return make
