"""Whether a process on this machine is still running (for leases and status files)."""
from __future__ import annotations

import os


def pid_alive(pid: int | str | None) -> bool:
    """True while process `pid` runs, whoever owns it; False for no pid or a malformed one."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except PermissionError:   # it runs, as another user
        return True
    except (OSError, ValueError, OverflowError):
        return False
    return True
