"""How long an AppTest script run may take before it counts as hung (AppTest's own default is 3 s).

Generous: a loaded CI machine or the clock-moved run (`make test-next-year`) runs the same app
several times slower, and a hung run fails either way."""
APP_TIMEOUT = 120.0
