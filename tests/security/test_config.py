"""Production settings in .streamlit/config.toml."""
import tomllib
from pathlib import Path

from tests.conftest import ROOT


def test_streamlit_production_settings():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] in ("none", False)
    assert config["server"]["enableXsrfProtection"] is True
    assert 1 <= config["server"]["maxUploadSize"] <= 1000
    assert config["server"].get("headless") is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"].get("runOnSave", False) is False
    assert config["server"].get("address") == "127.0.0.1"    # hosting is a deliberate choice


def test_no_secrets_committed():
    assert not (ROOT / ".streamlit" / "secrets.toml").exists() or \
        ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text()
    assert not Path(ROOT / ".streamlit" / "auth.yaml").exists() or \
        "auth.yaml" in (ROOT / ".gitignore").read_text()
