"""Shared pytest fixtures. `offline`: HF hub, datasets and transformers offline for a whole module, e.g.

    pytestmark = pytest.mark.usefixtures("offline")
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def offline():
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            patch.setenv(name, "1")
        yield
