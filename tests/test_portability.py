"""Comms officers use Windows laptops: nothing POSIX-only on the path of a command.

CI runs on Linux, so this hides ``fcntl`` (which Windows lacks) from a fresh interpreter,
imports every module of the package there, and sends an issue to the outbox; and it checks
that the outbox only writes file names Windows accepts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sending import make_project, write_subscribers

# Windows refuses these characters in file names, and names ending in a dot or a space.
WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]|[. ]$')

WITHOUT_FCNTL = """
import pkgutil, sys
sys.modules["fcntl"] = None  # `import fcntl` now raises ImportError, as on Windows
import mailer
for module in pkgutil.walk_packages(mailer.__path__, "mailer."):
    __import__(module.name)
from mailer.cli import main
sys.argv = ["mailer", "send", sys.argv[1], "--yes"]
main()
"""


def test_every_module_imports_and_a_send_runs_without_fcntl(tmp_path: Path) -> None:
    issue = make_project(tmp_path / "news")
    addresses = write_subscribers(tmp_path / "news" / "subscribers.example.csv", 12)
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": "s" * 40}
    env.pop("MAILER_TRANSPORT", None)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", WITHOUT_FCNTL, str(issue)],
        cwd=tmp_path / "news", env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written = list((tmp_path / "news" / "outbox" / "new").iterdir())
    assert len(written) == len(addresses)
    assert not [path.name for path in written if WINDOWS_FORBIDDEN.search(path.name)]
