"""curation.dependency_check answers datatrove's dependency question as datatrove's own scan does, and is in use.

Run: .venv/bin/pytest tests/test_dependency_check.py -q
"""

import importlib

import datatrove.utils._import_utils as datatrove_import_utils

import curation.pipeline  # noqa: F401  (installs the lookup)
from curation.dependency_check import distribution_available


def test_lookup_agrees_with_datatrove_scan_and_is_installed():
    scan = importlib.reload(datatrove_import_utils)._is_distribution_available  # datatrove's original
    try:
        for name in ("pyarrow", "orjson", "xxhash", "fasttext-numpy2-wheel", "no-such-distribution-xyz"):
            assert distribution_available(name) == scan(name), name
    finally:
        importlib.reload(importlib.import_module("curation.dependency_check"))
    assert datatrove_import_utils._is_distribution_available is not scan
