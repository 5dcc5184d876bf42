"""The screenshots in docs/images/: both example issues at 375 and 600 px, light and dark,
taken with ``mailer preview --screenshots`` (headless Chromium), as readers see them.

Run from the repository root after changing the theme, then look at the pictures and commit
them:  .venv/bin/python bench/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("2018-03-iom-turkey", "2021-01-project-update")
IMAGES = ROOT / "docs" / "images"


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    mailer = Path(sys.executable).with_name("mailer")
    for name in EXAMPLES:
        with tempfile.TemporaryDirectory(prefix="mailer-shots-") as folder:
            subprocess.run(
                [str(mailer), "preview", f"issues/{name}.yaml", "--no-serve", "--screenshots",
                 "--edition", "en", "--out", folder],
                cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
            )
            for shot in sorted(Path(folder).rglob("screenshot-*.png")):
                target = IMAGES / f"{name}-{shot.stem.removeprefix('screenshot-')}.png"
                shutil.copyfile(shot, target)
                print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
