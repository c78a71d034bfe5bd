"""bench/run.py records which paths were uncommitted when it measured the working tree."""

from __future__ import annotations

from bench.run import porcelain_paths


def test_porcelain_paths_keep_every_character_of_the_first_path() -> None:
    # " M" (changed in the work tree only) starts with a space that must not be stripped away.
    output = " M apps/gateway/publish.py\nM  docs/performance.md\n?? apps/gateway/rosters.py\n"
    assert porcelain_paths(output) == [
        "apps/gateway/publish.py",
        "docs/performance.md",
        "apps/gateway/rosters.py",
    ]


def test_a_rename_gives_its_new_path() -> None:
    assert porcelain_paths("R  bench/old.py -> bench/new.py\n") == ["bench/new.py"]
