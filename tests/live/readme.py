"""The README's copy-paste examples, pulled out so tests run exactly what a newcomer pastes."""

from __future__ import annotations

import re

from tests.live.stack import ROOT


def readme_block(marker: str) -> str:
    """The fenced code block of README.md whose first line is the comment ``# <marker>``."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|python)\n(.*?)```", text, flags=re.S)
    matching = [block for block in blocks if block.startswith(f"# {marker}\n")]
    assert len(matching) == 1, f"README.md has {len(matching)} blocks marked {marker}"
    return matching[0]


def with_keys(script: str, app_key: str, app_secret: str) -> str:
    """The curl block with the two placeholder lines filled in, as a reader would."""
    script = re.sub(r"^APP_KEY=.*$", f"APP_KEY={app_key}", script, count=1, flags=re.M)
    return re.sub(r"^APP_SECRET=.*$", f"APP_SECRET={app_secret}", script, count=1, flags=re.M)
