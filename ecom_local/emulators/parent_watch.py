"""Server processes that stop when the command that started them is gone, even if it was killed.

`run` and `emulators up` stop their server processes (fakesnow, Prefect's API) on exit, Ctrl-C and SIGTERM. A
SIGKILL gives them no chance: the servers would keep running, and holding their ports, until someone found them.
"""

from __future__ import annotations

import os
import signal
import threading
import time

CHECK_SECONDS = 1.0


def stop_with_parent() -> None:
    """Send this process SIGTERM (a graceful stop) once its parent has exited; checks every second."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by another process: its parent id changes
            time.sleep(CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()
