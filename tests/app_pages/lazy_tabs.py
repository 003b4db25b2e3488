"""Lazy tabs in screen tests: only the open tab's body runs, so a test opens a tab before reading it."""


def open_tab(at, key: str, label: str):
    """Open the tab `label` of the tab bar whose state key is `key`, and rerun the screen."""
    at.session_state[key] = label
    return at.run()


def has_widget(at, kind: str, key: str) -> bool:
    """Whether the last run drew a widget of this kind (e.g. "button") with this key."""
    return any(w.key == key for w in at.get(kind))
