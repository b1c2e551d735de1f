"""The built-in samplers and guidance types, as manifests: they register through the same API as plugins.

Pure data (no torch), so the window can list them before any model is loaded. Sampler ids and labels are
the ones AUTOMATIC1111, ComfyUI and InvokeAI use; every sampler is a diffusers scheduler (not re-implemented),
made by `studio.engine.samplers`; the guidance types live in `studio.engine.guidance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import studio
from studio.plugins.manifest import API_VERSION, Manifest, Parameter


@dataclass(frozen=True)
class SchedulerSampler:
    id: str
    label: str  # AUTOMATIC1111's name, written into the `parameters` metadata
    scheduler: str  # diffusers class name
    options: dict = field(default_factory=dict)
    stochastic: bool = False
    karras: bool | None = None  # None: the scheduler has no Karras-sigmas option
    model: str = "denoiser"
    description: str = ""


@dataclass(frozen=True)
class BuiltinGuidance:
    id: str
    label: str
    description: str
    parameters: tuple[Parameter, ...] = ()
    cfg_equivalent: dict | None = None


_DPMPP = {"algorithm_type": "dpmsolver++", "solver_order": 2}

BUILTIN_SAMPLERS = {
    s.id: s
    for s in (
        SchedulerSampler("ddim", "DDIM", "DDIMScheduler", description="Song et al. 2021, deterministic (eta 0)"),
        SchedulerSampler("ddpm", "DDPM", "DDPMScheduler", stochastic=True, description="Ho et al. 2020, ancestral"),
        SchedulerSampler("euler", "Euler", "EulerDiscreteScheduler", karras=False, description="Karras et al. 2022, Euler ODE steps"),
        SchedulerSampler("euler_a", "Euler a", "EulerAncestralDiscreteScheduler", stochastic=True, description="Euler with ancestral noise"),
        SchedulerSampler("heun", "Heun", "HeunDiscreteScheduler", karras=False, description="Karras et al. 2022, 2nd-order Heun"),
        SchedulerSampler("lms", "LMS", "LMSDiscreteScheduler", karras=False, description="linear multistep, order 4"),
        SchedulerSampler("dpmpp_2m", "DPM++ 2M", "DPMSolverMultistepScheduler", _DPMPP, karras=False, description="Lu et al. 2022, DPM-Solver++ 2nd-order multistep"),
        SchedulerSampler("dpmpp_2m_karras", "DPM++ 2M Karras", "DPMSolverMultistepScheduler", _DPMPP, karras=True, description="DPM++ 2M on Karras sigmas"),
        SchedulerSampler("dpmpp_2m_sde", "DPM++ 2M SDE", "DPMSolverMultistepScheduler", {**_DPMPP, "algorithm_type": "sde-dpmsolver++"}, stochastic=True, karras=False, description="DPM-Solver++ for the reverse SDE"),
        SchedulerSampler("unipc", "UniPC", "UniPCMultistepScheduler", karras=False, description="Zhao et al. 2023, predictor-corrector"),
        SchedulerSampler("lcm", "LCM", "LCMScheduler", stochastic=True, model="consistency", description="Luo et al. 2023, multistep consistency sampling; needs an LCM (distilled) model"),
    )
}

_SCALE_HELP = "the guidance scale of the panel applies inside the interval; outside it the prediction is the conditional one"

BUILTIN_GUIDANCE = {
    g.id: g
    for g in (
        BuiltinGuidance("cfg", "Classifier-free guidance (CFG)", "Ho & Salimans 2022: uncond + scale * (cond - uncond)"),
        BuiltinGuidance(
            "cfg_rescale", "CFG with rescale",
            "Lin et al. 2023: CFG whose v-prediction is rescaled towards the conditional one's standard deviation",
            (Parameter("rescale", "float", 0.7, 0.0, 1.0, 0.05, label="Rescale", help="0 is plain CFG"),),
            cfg_equivalent={"rescale": 0.0},
        ),
        BuiltinGuidance(
            "interval", "CFG in an interval of noise levels",
            "Kynkäänniemi et al. 2024: guidance only for noise levels (sigma) in (sigma_low, sigma_high]",
            (
                Parameter("sigma_low", "float", 0.28, 0.0, 1000.0, 0.01, label="Lowest sigma", help=_SCALE_HELP),
                Parameter("sigma_high", "float", 5.42, 0.0, 1000.0, 0.01, label="Highest sigma", help=_SCALE_HELP),
            ),
            cfg_equivalent={"sigma_low": 0.0, "sigma_high": 1000.0},
        ),
    )
}


def _karras(default: bool) -> Parameter:
    return Parameter("karras", "bool", default, label="Karras sigmas", help="noise levels spaced as in Karras et al. 2022")


def sampler_manifest(sampler: SchedulerSampler) -> Manifest:
    return Manifest(
        name=sampler.id, kind="sampler", version=studio.__version__, api_version=API_VERSION,
        implementation=f"studio.engine.samplers:{sampler.id}", label=sampler.label, description=sampler.description,
        parameters=(_karras(sampler.karras),) if sampler.karras is not None else (), style="scheduler",
        stochastic=sampler.stochastic, model=sampler.model,
        details={"diffusers": sampler.scheduler, **({"options": dict(sampler.options)} if sampler.options else {})},
    )


def guidance_manifest(guidance: BuiltinGuidance) -> Manifest:
    return Manifest(
        name=guidance.id, kind="guidance", version=studio.__version__, api_version=API_VERSION,
        implementation=f"studio.engine.guidance:{guidance.id}", label=guidance.label, description=guidance.description,
        parameters=guidance.parameters, needs=("cond", "uncond"), neutral_scale=1.0,
        cfg_equivalent=guidance.cfg_equivalent if guidance.id != "cfg" else {},
    )


def builtin_manifests() -> list[Manifest]:
    return [sampler_manifest(s) for s in BUILTIN_SAMPLERS.values()] + [guidance_manifest(g) for g in BUILTIN_GUIDANCE.values()]
