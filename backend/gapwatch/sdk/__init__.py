"""The SDK for one's own training loops: `gapwatch.init`, `Run`, offline runs and sync.

    import gapwatch

    run = gapwatch.init(project="cl-lab", name="my-er", config={"lr": 0.01})
    run.task_start(0, step=0)
    run.log({"train/loss": 0.31}, step=12)
    run.log_eval({0: 0.97, 1: 0.12}, step=12)
    run.task_end(0, step=500)
    run.finish()

Modules: `run` (init, Run), `online` (the server, through the client's RunLogger), `offline`
(a local run directory; its layout is documented there), `sync` (`gapwatch sync`),
`credentials` (`gapwatch login`), `records` and `spill` (crash-safe files), `validation`
(the server's bounds, checked at the call), `commands` (the CLI). The SDK needs only the core:
httpx, pydantic, `gapwatch.client` and `gapwatch.spec`; never torch or the server.
"""

from gapwatch.sdk.run import Run, init

__all__ = ["Run", "init"]
