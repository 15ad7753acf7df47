"""datatrove's worker server (a multiprocess forkserver) with the curation pipeline's modules already imported.

    from curation.worker_server import start_worker_server
    start_worker_server()   # first thing in `mixlab curate`, before this process imports the pipeline itself

Light on purpose (multiprocess only): `mixlab curate` starts the server before importing curation.pipeline, so the
server's imports and this process's run on two cores at the same time.
"""

from __future__ import annotations

# pandas: pyarrow imports it on the first pa.array() of every process (0.2-0.5 s)
WORKER_PRELOAD = ["__main__", "curation.pipeline", "pandas"]


def start_worker_server() -> None:
    """Start datatrove's forkserver with the pipeline's modules imported, so every stage's workers (forked from it)
    start in ~0.1 s instead of importing datatrove, numpy, pyarrow, pandas and curation again (~1 s per stage).

    The preload only applies when the server starts (the first call in this process); later calls do nothing.
    """
    import multiprocess.forkserver

    multiprocess.forkserver.set_forkserver_preload(WORKER_PRELOAD)
    multiprocess.forkserver.ensure_running()
