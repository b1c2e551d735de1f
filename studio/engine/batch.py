"""Running a batch: every job of a recipe's grid, written to an export folder as it finishes, resumable.

Jobs that differ only in their seed run together, several pictures per forward pass. The groups are cut
from the whole grid, never from what is left of it, so a resumed batch recomputes whole groups and every
picture keeps the exact pixels its recorded batch gives.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import groupby

from studio.core.cancel import CancelToken
from studio.core.export import BatchFolder, ExportSettings
from studio.core.recipe import Recipe
from studio.core.sweeps import Job, expand
from studio.engine.jobs import auto_batch_size, load_inputs, run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.progress import ProgressCallback


def seed_groups(jobs: list[Job], batch_size: int) -> list[list[Job]]:
    """Consecutive jobs at one grid point (same settings, other seeds), cut into groups of batch_size."""
    groups = []
    for _, point in groupby(jobs, key=lambda job: job.recipe.replace(seed=0)):
        point = list(point)
        groups.extend(point[i:i + batch_size] for i in range(0, len(point), batch_size))
    return groups


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
    pending = {job.index for job in folder.start(resume)}
    written = []
    if pending:
        inputs = load_inputs(recipe)
        batch_size = recipe.batch_size or auto_batch_size(store.get(recipe.model), recipe)
        for group in seed_groups(jobs, batch_size):
            if not pending.intersection(job.index for job in group):
                continue

            def report(progress, first=group[0].index):
                if on_progress is not None:
                    on_progress(replace(progress, item=first + progress.item, items=len(jobs)))

            together = group[0].recipe.replace(variations=len(group), batch_size=len(group))
            results = run_recipe(together, store, report, cancel, inputs=inputs)
            for job, result in zip(group, results):
                if job.index in pending:
                    path = folder.write(job, result.pixels, result.metadata)
                    written.append(path)
                    if on_written is not None:
                        on_written(job, path, result)
    folder.finish()
    return written
