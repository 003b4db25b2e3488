"""The key that signs login cookies: refuse one anyone else could know.

Refused: no key, fewer than 32 characters, the login library's old default, the placeholder
in `.streamlit/secrets.toml.example`, and any value that appears in a file tracked by git in
this checkout (a key committed anywhere is public). The git scan is one `git grep` per key
and process (cached); without git, the shipped text files are read instead.
"""
from __future__ import annotations

import functools
import os
import subprocess
import tomllib
from pathlib import Path

MIN_LENGTH = 32
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILE = Path(".streamlit") / "secrets.toml.example"
_KNOWN_DEFAULTS = frozenset({"some_key", "replace-with-a-random-string-of-at-least-32-characters"})
_SCAN_SUFFIXES = {".md", ".py", ".toml", ".example", ".yaml", ".yml", ".txt", ".cfg", ".ini", ".json", ".sh"}
_SKIP_DIRS = {".git", ".venv", "node_modules", "workspace", "__pycache__", "sample_data"}
HOW_TO = ("Set [auth] cookie_key in .streamlit/secrets.toml (or $CDP_COOKIE_KEY) to a random "
          "string of 32 or more characters, for example the output of "
          "`python3 -c \"import secrets; print(secrets.token_urlsafe(48))\"`. "
          "`make run` writes one for you when secrets.toml does not exist.")


class WeakCookieKey(ValueError):
    """The configured cookie key is missing or public; the message says how to fix it."""


def example_key(root: Path = ROOT) -> str | None:
    try:
        data = tomllib.loads((root / EXAMPLE_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return (data.get("auth") or {}).get("cookie_key")


def check_cookie_key(key: str | None, root: Path = ROOT) -> str:
    """Return key if it is fit to sign login cookies; raise WeakCookieKey otherwise."""
    if not key:
        raise WeakCookieKey("No cookie key is configured. " + HOW_TO)
    key = str(key)
    if key in _KNOWN_DEFAULTS or key == example_key(root):
        raise WeakCookieKey("The cookie key is the published example value, so anyone could "
                            "forge a login. " + HOW_TO)
    if len(key) < MIN_LENGTH:
        raise WeakCookieKey(f"The cookie key has {len(key)} characters; at least {MIN_LENGTH} "
                            "are needed. " + HOW_TO)
    where = committed_in(key, str(root))
    if where:
        raise WeakCookieKey(f"The cookie key appears in {where}, a file in the repository, so it "
                            "is not secret. " + HOW_TO)
    return key


@functools.lru_cache(maxsize=8)
def committed_in(value: str, root: str) -> str | None:
    """The first tracked file containing value, or None."""
    try:
        done = subprocess.run(["git", "-C", root, "grep", "-l", "-I", "-F", "-z", "-e", value, "--"],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode in (0, 1) and not done.stderr.strip():
        return done.stdout.split(b"\0")[0].decode() if done.returncode == 0 else None
    return _scan_files(value, Path(root))


def _scan_files(value: str, root: Path) -> str | None:
    """Without git: read the shipped text files (small; virtualenvs and data folders pruned)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        for name in files:
            path = Path(folder) / name
            if name == "secrets.toml" or (path.suffix not in _SCAN_SUFFIXES and name != "Makefile"):
                continue
            try:
                if value in path.read_text(encoding="utf-8", errors="ignore"):
                    return str(path.relative_to(root))
            except OSError:
                continue
    return None
