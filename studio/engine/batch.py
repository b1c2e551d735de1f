"""Running a batch: every job of a recipe's grid, written to an export folder as it finishes, resumable."""

from __future__ import annotations

from dataclasses import replace

from studio.core.cancel import CancelToken
from studio.core.export import BatchFolder, ExportSettings
from studio.core.recipe import Recipe
from studio.core.sweeps import expand
from studio.engine.jobs import load_inputs, run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.progress import ProgressCallback


def run_batch(
    recipe: Recipe,
    store: ModelStore,
    settings: ExportSettings,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_written=None,
) -> list:
    """Run the jobs still missing from the folder; returns the paths written by this run, in job order.
    Progress counts jobs across the whole batch, so a resumed batch continues where it stopped."""
    jobs = expand(recipe)
    folder = BatchFolder(settings, recipe, jobs)
    pending = folder.start(resume)
    inputs = load_inputs(recipe) if pending else None
    written = []
    for job in pending:
        def report(progress, job=job):
            if on_progress is not None:
                on_progress(replace(progress, item=job.index, items=len(jobs)))

        [result] = run_recipe(job.recipe, store, report, cancel, inputs=inputs)
        path = folder.write(job, result.pixels, result.metadata)
        written.append(path)
        if on_written is not None:
            on_written(job, path, result)
    folder.finish()
    return written
