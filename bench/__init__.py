"""The imcloud benchmark: `python bench/run.py --quick` (docs/performance.md)."""
