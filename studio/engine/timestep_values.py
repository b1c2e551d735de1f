"""A pipeline's current timestep as a Python float, without waiting on the GPU.

Stock pipelines call the UNet with `t`, a view into `scheduler.timesteps` on the GPU; `float(t)` would make
the host wait for every queued kernel at each step (no launching ahead). The values are copied to the host
once per schedule instead, and a view is read by its position in that tensor. A schedule rewritten in place is
copied again: a scheduler that does so bumps its `timesteps_revision` (the k-diffusion adapter), and outside
inference mode the tensor's own version counter shows it too. Anything else (a
tensor built by the pipeline, a number) is read directly.
"""

from __future__ import annotations

from typing import Any

import torch


class TimestepValues:
    def __init__(self, scheduler: Any = None):
        self.scheduler = scheduler
        self._source: tuple | None = None
        self._values: list[float] = []

    def __call__(self, timestep: Any) -> float:
        if not isinstance(timestep, torch.Tensor):
            return float(timestep)
        value = self._lookup(timestep)
        return value if value is not None else float(timestep.flatten()[0])

    def _lookup(self, timestep: torch.Tensor) -> float | None:
        timesteps = getattr(self.scheduler, "timesteps", None)
        if (not isinstance(timesteps, torch.Tensor) or timesteps.dim() != 1 or not timesteps.is_contiguous()
                or timesteps.device != timestep.device or timesteps.dtype != timestep.dtype or not len(timesteps)):
            return None
        revision = (getattr(self.scheduler, "timesteps_revision", 0), _version(timesteps))
        if self._source is None or self._source[0] is not timesteps or self._source[1] != revision:
            self._source = (timesteps, revision)  # a new or rewritten schedule: one copy to the host
            self._values = [float(v) for v in timesteps.detach().cpu().tolist()]
        if timestep.untyped_storage().data_ptr() != timesteps.untyped_storage().data_ptr():
            return None
        offset, size = timestep.data_ptr() - timesteps.data_ptr(), timesteps.element_size()
        index, rest = divmod(offset, size)
        return self._values[index] if rest == 0 and 0 <= index < len(self._values) else None


def _version(tensor: torch.Tensor) -> int | None:
    try:
        return tensor._version
    except RuntimeError:  # inference tensors keep no version counter
        return None
