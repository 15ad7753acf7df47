"""datatrove's pip-dependency check, answered by one metadata lookup instead of a scan of every installed package.

    import curation.dependency_check  # noqa: F401  (curation.pipeline does; the patch applies on import)

datatrove checks each step's `_requires_dependencies` when the step is created (and again when a worker process
unpickles it) by reading the metadata of every installed distribution: ~0.5 s per package name and process, ~1.5 s
of a cold `mixlab curate` in the main process and ~0.5 s in each worker of each stage. `importlib.metadata`'s
lookup by name gives the same answer (True, or None when missing) in about a millisecond.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache

import datatrove.utils._import_utils as datatrove_import_utils


@lru_cache
def distribution_available(distribution_name: str) -> bool | None:
    try:
        importlib.metadata.distribution(distribution_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return True


datatrove_import_utils._is_distribution_available = distribution_available
