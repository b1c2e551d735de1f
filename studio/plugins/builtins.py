"""The built-in samplers: ids as AUTOMATIC1111, ComfyUI and InvokeAI name them, on diffusers' schedulers.

Pure data (no torch), so the window can list them before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SchedulerSampler:
    id: str
    label: str  # AUTOMATIC1111's name, written into the `parameters` metadata
    scheduler: str  # diffusers class name
    options: dict = field(default_factory=dict)


_DPMPP = {"algorithm_type": "dpmsolver++", "solver_order": 2}

BUILTIN_SAMPLERS = {
    s.id: s
    for s in (
        SchedulerSampler("ddim", "DDIM", "DDIMScheduler"),
        SchedulerSampler("ddpm", "DDPM", "DDPMScheduler"),
        SchedulerSampler("euler", "Euler", "EulerDiscreteScheduler"),
        SchedulerSampler("euler_a", "Euler a", "EulerAncestralDiscreteScheduler"),
        SchedulerSampler("heun", "Heun", "HeunDiscreteScheduler"),
        SchedulerSampler("lms", "LMS", "LMSDiscreteScheduler"),
        SchedulerSampler("dpmpp_2m", "DPM++ 2M", "DPMSolverMultistepScheduler", _DPMPP),
        SchedulerSampler("dpmpp_2m_karras", "DPM++ 2M Karras", "DPMSolverMultistepScheduler", {**_DPMPP, "use_karras_sigmas": True}),
        SchedulerSampler("dpmpp_2m_sde", "DPM++ 2M SDE", "DPMSolverMultistepScheduler", {**_DPMPP, "algorithm_type": "sde-dpmsolver++"}),
        SchedulerSampler("unipc", "UniPC", "UniPCMultistepScheduler"),
        SchedulerSampler("lcm", "LCM", "LCMScheduler"),
    )
}
