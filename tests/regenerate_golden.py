"""Rewrite the golden plain-text parts in ``tests/golden/`` from the example issues.

Run after an intended change to an example issue, the text template or the renderer, then
review the diff (``git diff tests/golden``) before committing::

    PYTHONPATH=src python3 tests/regenerate_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mailer.compose.images import EmbeddedImages  # noqa: E402
from mailer.compose.issue import load_issue  # noqa: E402
from mailer.compose.render import render_issue  # noqa: E402
from mailer.settings import load_settings  # noqa: E402

EXAMPLES = ["2018-03-iom-turkey", "2021-01-project-update"]
GOLDEN = ROOT / "tests" / "golden"


def main() -> None:
    settings = load_settings(ROOT / "mailer.toml")
    GOLDEN.mkdir(exist_ok=True)
    for name in EXAMPLES:
        loaded = load_issue(ROOT / "issues" / f"{name}.yaml", settings)
        text = render_issue(loaded, EmbeddedImages("iom.int")).text
        path = GOLDEN / f"{name}.txt"
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {'unchanged' if old == text else 'written'}")


if __name__ == "__main__":
    main()
