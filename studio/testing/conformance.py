"""The conformance check every sampler and guidance plugin must pass (and every built-in does).

Gaussian and Gaussian-mixture data have an exact model in closed form (studio.testing.exact). The check runs
the plugin through the engine's own objects -- `sampling_for` gives the scheduler (or the k-diffusion adapter)
and the guided UNet, exactly as a job gets them -- and through the pipelines' denoising loop
(studio.testing.loop) on that exact model, with the noise schedule of Stable Diffusion (scaled-linear betas
0.00085..0.012, 1000 steps, 'leading' spacing as SD 1.5 ships it), then compares the samples with the exact
target distribution as the number of steps grows.

Why the samples start from the data noised to the first step (img2img at strength 1) rather than from pure
noise: SD's schedule does not reach pure noise (sqrt(alpha_bar) = 0.068 at t = 999), so pure noise is not the
true distribution at the first step, and even a perfect sampler would keep a bias of about 7% of the data's
mean. Noising samples of the target itself gives the exact distribution at the first step; a correct sampler
must then return the target, whatever its number of steps tends to. `init_noise_sigma` (the pure-noise start
of text-to-image and inpainting) is checked separately.

Criteria, for each data set and prediction type (noise and v):
  * at the most steps the error is below `tolerance` (W2 between the samples' Gaussian fit and a Gaussian
    target; sliced W2 against an exact sample of the same size for the mixture);
  * the error falls as steps grow: no step count is worse than a smaller one by more than the Monte-Carlo
    slack, and the error at the most steps is at most half that at the fewest (unless the fewest already
    meet the tolerance: fast samplers are allowed to be done early).
Consistency samplers (LCM) expect a distilled consistency model, not a denoiser: with the exact denoiser their
re-noising steps lose variance (about half of it as steps grow), so no step count converges. They are checked
with the exact consistency function instead (the probability-flow ODE's endpoint, closed form for a Gaussian)
and must then be right at every step count, as their paper claims; `lcm_with_a_denoiser` shows the other case.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from studio.core.resources import resources_dir
from studio.engine.plugin_adapters import sampling_for
from studio.engine.sigmas import NoiseSchedule
from studio.plugins.manifest import Manifest
from studio.plugins.registry import PluginRegistry, default_registry
from studio.testing.exact import ExactModel, GaussianMixture, _matmul, gaussian_w2, sliced_w2
from studio.testing.loop import denoise

SAMPLES = 16384
SAMPLER_STEPS = (5, 10, 25, 100)
CONSISTENCY_STEPS = (1, 2, 4, 8)
GUIDANCE_STEPS = (10, 25, 100)
PREDICTION_TYPES = ("epsilon", "v_prediction")

GAUSSIAN = GaussianMixture.gaussian([0.8, -0.5], [[1.0, 0.3], [0.3, 0.5]])
MIXTURE = GaussianMixture.of(
    [0.35, 0.65], [[-1.2, 0.6], [1.0, -0.4]], [[[0.15, 0.05], [0.05, 0.08]], [[0.1, 0.0], [0.0, 0.25]]],
)


def _guidance_data(dim: int = 8, seed: int = 2024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cond and uncond means and their shared covariance, in 8 dimensions: guidance types that use statistics
    over a latent's values (CFG rescale) need more than two of them."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    covariance = rotation @ np.diag(np.linspace(0.2, 1.0, dim)) @ rotation.T
    cond = rng.normal(scale=0.5, size=dim)
    return cond, cond + rng.normal(scale=0.3, size=dim), covariance


COND_MEAN, UNCOND_MEAN, SHARED_COVARIANCE = _guidance_data()


@contextlib.contextmanager
def _one_thread():
    """The check's tensors are small: torch's thread pool only costs time, a lot of it on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _single_threaded(function):
    @functools.wraps(function)
    def run(*args, **kwargs):
        with _one_thread():
            return function(*args, **kwargs)

    return run


class ConformanceFailure(AssertionError):
    """A plugin did not pass: the message holds the table of errors and what failed."""


def sd_scheduler_config(prediction_type: str = "epsilon") -> dict:
    """Stable Diffusion 1.5's scheduler config, as bundled for loading single-file checkpoints."""
    path = resources_dir() / "models" / "sd15" / "scheduler" / "scheduler_config.json"
    config = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
    return dict(config, prediction_type=prediction_type)


def tolerance_for(samples: int, dim: int = 2) -> float:
    """What the most steps must reach (errors are relative, see `_metric`): a discretisation allowance plus
    the Monte-Carlo error of `samples` points in `dim` dimensions."""
    return 0.035 + 2.0 * math.sqrt(dim / samples)


def slack_for(samples: int, dim: int = 2) -> float:
    """How much a larger step count may be worse than a smaller one by chance."""
    return 1.5 * math.sqrt(dim / samples)


@dataclass
class Measurement:
    case: str  # e.g. "gaussian/epsilon"
    steps: int
    error: float
    detail: dict = field(default_factory=dict)


@dataclass
class ConformanceReport:
    plugin: str
    kind: str
    measurements: list[Measurement] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def errors(self, case: str) -> dict[int, float]:
        return {m.steps: m.error for m in self.measurements if m.case == case}

    def table(self) -> str:
        cases = list(dict.fromkeys(m.case for m in self.measurements))
        steps = sorted({m.steps for m in self.measurements})
        lines = [f"{self.kind} '{self.plugin}'   error by number of steps", "case".ljust(34) + "".join(f"{s:>9}" for s in steps)]
        for case in cases:
            errors = self.errors(case)
            lines.append(case.ljust(34) + "".join(f"{errors[s]:9.4f}" if s in errors else " " * 9 for s in steps))
        return "\n".join(lines + [f"note: {n}" for n in self.notes])

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED:\n  " + "\n  ".join(self.failures)
        return f"{self.table()}\n{verdict}"

    def raise_for_failures(self) -> "ConformanceReport":
        if self.failures:
            raise ConformanceFailure(str(self))
        return self


def judge_convergence(report: ConformanceReport, case: str, tolerance: float, slack: float) -> None:
    errors = report.errors(case)
    steps = sorted(errors)
    values = [errors[s] for s in steps]
    if not all(math.isfinite(v) for v in values):
        report.failures.append(f"{case}: non-finite samples")
        return
    if values[-1] > tolerance:
        report.failures.append(f"{case}: error {values[-1]:.4f} at {steps[-1]} steps is above the tolerance {tolerance:.4f}")
    for (a, ea), (b, eb) in zip(zip(steps, values), zip(steps[1:], values[1:])):
        if eb > ea + slack:
            report.failures.append(f"{case}: error grows from {ea:.4f} at {a} steps to {eb:.4f} at {b} steps")
    if values[0] > tolerance and values[-1] > 0.5 * values[0]:
        report.failures.append(f"{case}: error does not fall as steps grow ({values[0]:.4f} → {values[-1]:.4f})")


def judge_every_count(report: ConformanceReport, case: str, tolerance: float) -> None:
    for steps, error in sorted(report.errors(case).items()):
        if not math.isfinite(error) or error > tolerance:
            report.failures.append(f"{case}: error {error:.4f} at {steps} steps is above the tolerance {tolerance:.4f}")


# plugins given as objects --------------------------------------------------------------------------------------------


def _resolve(kind: str, plugin: str | Manifest | Mapping, implementation: Any, registry: PluginRegistry | None,
             classifier: Any = None) -> tuple[str, PluginRegistry]:
    """A name in `registry` (the default one unless given); a manifest is registered for this process."""
    registry = registry or default_registry()
    if isinstance(plugin, str):
        return plugin, registry
    manifest = Manifest.from_dict(plugin)
    if manifest.kind != kind:
        raise ValueError(f"'{manifest.name}' is a {manifest.kind} plugin, not a {kind} one")
    registry.register(manifest, implementation, classifier)
    return manifest.name, registry


def _metric(data: GaussianMixture, samples: np.ndarray, reference: np.ndarray | None) -> tuple[float, dict]:
    """Relative error of `samples` against `data`: for a Gaussian, the 2-Wasserstein distance between the
    samples' Gaussian fit and the target over sqrt(trace of its covariance); for a mixture, the sliced
    2-Wasserstein distance to an exact `reference` sample over the spread per direction."""
    mean = samples.mean(0)
    centred = samples - mean
    cov = _matmul(centred.T, centred) / (len(samples) - 1)  # not np.cov: no BLAS thread pool
    spread = float(np.trace(data.covariance()))
    w2 = gaussian_w2(mean, cov, data.mean(), data.covariance())
    detail = {"mean": mean.round(4).tolist(), "w2_gaussian_fit": w2}
    if data.is_gaussian:
        return w2 / math.sqrt(spread), detail
    sliced = sliced_w2(samples, reference)
    detail["sliced_w2"] = sliced
    return sliced / math.sqrt(spread / data.dim), detail


def _run(name: str, registry: PluginRegistry, config: dict, model: ExactModel, params: dict, start: GaussianMixture,
         steps: int, samples: int, seed: int, guidance: tuple[str, dict, float] = ("cfg", {}, 1.0),
         strength: float = 1.0) -> np.ndarray:
    guidance_type, guidance_params, scale = guidance
    sampling = sampling_for(config, model, name, params, guidance_type, guidance_params, scale, registry)
    generator = torch.Generator().manual_seed(seed)
    x0 = start.sample(samples, generator)
    return denoise(sampling, x0, steps, generator, strength=strength).numpy()


# samplers ------------------------------------------------------------------------------------------------------------


@_single_threaded
def check_sampler(
    sampler: str | Manifest | Mapping,
    implementation: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    steps: Sequence[int] | None = None,
    samples: int = SAMPLES,
    seed: int = 0,
    prediction_types: Sequence[str] = PREDICTION_TYPES,
    mixture: bool = True,
    registry: PluginRegistry | None = None,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check a sampler (a registered name, or a manifest with its implementation) against exact targets."""
    name, registry = _resolve("sampler", sampler, implementation, registry)
    manifest = registry.manifest("sampler", name)
    consistency = manifest.model == "consistency"
    steps = tuple(steps or (CONSISTENCY_STEPS if consistency else SAMPLER_STEPS))
    params = dict(params or {})
    report = ConformanceReport(name, "sampler")
    tolerance, slack = tolerance_for(samples, GAUSSIAN.dim), slack_for(samples, GAUSSIAN.dim)
    if consistency:
        report.notes.append("consistency sampler: run on the exact consistency function (the ODE's endpoint); "
                            "it must be right at every step count")
    for index, prediction_type in enumerate(prediction_types):
        config = sd_scheduler_config(prediction_type)
        schedule = NoiseSchedule.from_config(config)
        datasets = [("gaussian", GAUSSIAN)]
        if mixture and not consistency and index == 0:  # the mixture once: the parametrisation is the Gaussian's job
            datasets.append(("mixture", MIXTURE))
        for label, data in datasets:
            case = f"{label}/{prediction_type}"
            reference = data.sample(samples, torch.Generator().manual_seed(seed + 7919)).numpy()
            for count in steps:
                model = ExactModel(schedule, data, consistency=consistency)
                out = _run(name, registry, config, model, params, data, count, samples, seed)
                error, detail = _metric(data, out, reference)
                report.measurements.append(Measurement(case, count, error, detail))
            if consistency:
                judge_every_count(report, case, tolerance)
            else:
                judge_convergence(report, case, tolerance, slack)
    _check_part_way(report, name, registry, params, steps[-1], samples, seed, consistency, tolerance)
    _check_initial_noise(report, name, registry, params, steps[-1])
    return report.raise_for_failures() if raise_on_failure else report


def _check_part_way(report, name, registry, params, steps, samples, seed, consistency, tolerance) -> None:
    """img2img at strength 0.5: starting half-way (set_begin_index, add_noise mid-schedule) must be as exact."""
    config = sd_scheduler_config("epsilon")
    model = ExactModel(NoiseSchedule.from_config(config), GAUSSIAN, consistency=consistency)
    sampling = sampling_for(config, model, name, params, "cfg", {}, 1.0, registry)
    generator = torch.Generator().manual_seed(seed + 1)
    out = denoise(sampling, GAUSSIAN.sample(samples, generator), steps, generator, strength=0.5).numpy()
    error, detail = _metric(GAUSSIAN, out, None)
    report.measurements.append(Measurement("gaussian/epsilon, strength 0.5", steps, error, detail))
    if not math.isfinite(error) or error > tolerance:
        report.failures.append(f"strength 0.5 (starting part-way): error {error:.4f} is above the tolerance {tolerance:.4f}")


def _check_initial_noise(report, name, registry, params, steps) -> None:
    """Text-to-image and inpainting at strength 1 start from noise * init_noise_sigma: it must be the spread
    add_noise gives pure noise at the first step (within 5%: diffusers itself uses sigma_max or
    sqrt(sigma_max^2 + 1) depending on the spacing)."""
    config = sd_scheduler_config("epsilon")
    model = ExactModel(NoiseSchedule.from_config(config), GAUSSIAN)
    scheduler = sampling_for(config, model, name, params, "cfg", {}, 1.0, registry).scheduler
    scheduler.set_timesteps(steps)
    noise = torch.ones(1, 2, 1, 1)
    spread = float(scheduler.add_noise(torch.zeros_like(noise), noise, scheduler.timesteps[:1]).flatten()[0])
    ratio = float(scheduler.init_noise_sigma) / spread
    report.notes.append(f"init_noise_sigma / noise level at the first step = {ratio:.4f}")
    if not 0.95 <= ratio <= 1.05:
        report.failures.append(f"init_noise_sigma {float(scheduler.init_noise_sigma):.4g} does not match the first "
                               f"step's noise level {spread:.4g}")


# guidance -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GaussianGuidanceProblem:
    """What a guidance's exact-target hook is given: cond ~ N(cond_mean, covariance), uncond ~ N(uncond_mean,
    covariance), the scale and parameters, the first step's noise level, and whether the sampler is stochastic
    (for guidance that is not the score of one distribution, ODE and SDE samplers reach different targets)."""

    cond_mean: np.ndarray
    uncond_mean: np.ndarray
    covariance: np.ndarray
    scale: float
    params: Mapping[str, Any]
    sigma_start: float
    stochastic: bool


@dataclass(frozen=True)
class GaussianTarget:
    start_mean: np.ndarray  # the data the check noises to the first step
    start_covariance: np.ndarray
    mean: np.ndarray  # what the samples must then follow
    covariance: np.ndarray


def cfg_target(problem: GaussianGuidanceProblem) -> GaussianTarget:
    """With a shared covariance, uncond + s (cond - uncond) is the exact prediction for N(uncond_mean + s
    (cond_mean - uncond_mean), covariance) at every noise level: that is the target, for ODE and SDE alike."""
    mean = problem.uncond_mean + problem.scale * (problem.cond_mean - problem.uncond_mean)
    return GaussianTarget(mean, problem.covariance, mean, problem.covariance)


def interval_target(problem: GaussianGuidanceProblem) -> GaussianTarget:
    """Guidance only for sigma in (sigma_low, sigma_high]: the effective data mean m(sigma) switches between the
    guided mean and the conditional one. The covariance is untouched (the guidance only shifts the predictions);
    the mean's offset u = E[x] - m(sigma) obeys du/dsigma = p sigma (C + sigma^2)^-1 u, so along each eigenvector
    of C (eigenvalue l) it scales as (l + sigma^2)^p between switches, p = 1/2 for the probability-flow ODE and
    1 for the reverse SDE, and the mean is continuous across a switch."""
    low, high = float(problem.params["sigma_low"]), float(problem.params["sigma_high"])
    guided = problem.uncond_mean + problem.scale * (problem.cond_mean - problem.uncond_mean)

    def effective(sigma: float) -> np.ndarray:
        return guided if low < sigma <= high else problem.cond_mean

    power = 1.0 if problem.stochastic else 0.5
    values, vectors = np.linalg.eigh(problem.covariance)
    start = effective(problem.sigma_start)
    mean, offset, sigma = start, np.zeros_like(values), problem.sigma_start
    for boundary in sorted((b for b in (low, high) if 0.0 < b < problem.sigma_start), reverse=True):
        offset = offset * ((values + boundary**2) / (values + sigma**2)) ** power
        below = effective(boundary * (1 - 1e-9))
        offset = offset + vectors.T @ (mean - below)
        mean, sigma = below, boundary
    offset = offset * (values / (values + sigma**2)) ** power
    return GaussianTarget(start, problem.covariance, mean + vectors @ offset, problem.covariance)


BUILTIN_TARGETS = {"cfg": cfg_target, "interval": interval_target}


def _gaussian(mean, covariance) -> GaussianMixture:
    return GaussianMixture.gaussian(mean, covariance)


def _guided_run(name, sampler, registry, prediction_type, params, scale, start: GaussianMixture, steps, samples, seed):
    config = sd_scheduler_config(prediction_type)
    schedule = NoiseSchedule.from_config(config)
    model = ExactModel(schedule, _gaussian(COND_MEAN, SHARED_COVARIANCE), _gaussian(UNCOND_MEAN, SHARED_COVARIANCE))
    return _run(sampler, registry, config, model, {}, start, steps, samples, seed, (name, params, scale))


def _first_sigma(sampler: str, registry: PluginRegistry, steps: int) -> float:
    config = sd_scheduler_config()
    schedule = NoiseSchedule.from_config(config)
    model = ExactModel(schedule, GAUSSIAN)
    scheduler = sampling_for(config, model, sampler, {}, "cfg", {}, 1.0, registry).scheduler
    scheduler.set_timesteps(steps)
    return schedule.sigma_at(float(scheduler.timesteps[0]))


@_single_threaded
def check_guidance(
    guidance: str | Manifest | Mapping,
    implementation: Any = None,
    *,
    classifier: Any = None,
    params: Mapping[str, Any] | None = None,
    scale: float = 3.0,
    samplers: Sequence[str] = ("euler", "euler_a"),
    steps: Sequence[int] = GUIDANCE_STEPS,
    samples: int = SAMPLES,
    seed: int = 0,
    prediction_types: Sequence[str] = ("epsilon",),
    target: Callable[[GaussianGuidanceProblem], GaussianTarget] | None = None,
    registry: PluginRegistry | None = None,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check a guidance type on Gaussian data with a shared covariance, through built-in samplers:

    * at its neutral scale it must sample the conditional distribution;
    * with its `cfg_equivalent` parameters (if declared) it must hit CFG's closed-form target;
    * at `params` (default: its defaults) it must hit its own exact target when it has one -- `target`, or a
      `gaussian_target(problem)` attribute on its implementation -- and otherwise converge as steps grow
      (each sample's distance to a 400-step run from the same noise must fall).
    """
    name, registry = _resolve("guidance", guidance, implementation, registry, classifier)
    manifest = registry.manifest("guidance", name)
    code = registry.implementation("guidance", name)
    builtin = registry.get("guidance", name).origin == "builtin"
    target = target or getattr(code, "gaussian_target", None) or (BUILTIN_TARGETS.get(name) if builtin else None)
    params = manifest.resolve(params)
    report = ConformanceReport(name, "guidance")
    dim = len(COND_MEAN)
    tolerance, slack = tolerance_for(samples, dim), slack_for(samples, dim)
    done: set = set()
    for position, sampler in enumerate(samplers):
        stochastic = registry.manifest("sampler", sampler).stochastic
        sigma_start = _first_sigma(sampler, registry, steps[-1])
        checks: list[tuple[str, dict, float, Callable | None]] = []
        if position == 0:  # these targets are the same for ODE and SDE samplers: one sampler suffices
            if manifest.neutral_scale is not None:
                checks.append(("neutral scale", params, manifest.neutral_scale, cfg_target))
            if manifest.cfg_equivalent is not None:
                checks.append(("as CFG", dict(manifest.cfg_equivalent), scale, cfg_target))
        checks.append(("own target" if target else "self-convergence", params, scale, target))
        for label, values, at_scale, exact in checks:
            key = (sampler, tuple(sorted(values.items())), at_scale, exact)
            if key in done:
                continue
            done.add(key)
            for prediction_type in prediction_types:
                case = f"{sampler}/{prediction_type}: {label} (scale {at_scale:g})"
                if exact is None:
                    _self_convergence(report, case, name, sampler, registry, prediction_type, values, at_scale,
                                      steps, samples, seed)
                    continue
                problem = GaussianGuidanceProblem(COND_MEAN, UNCOND_MEAN, SHARED_COVARIANCE, at_scale, values,
                                                  sigma_start, stochastic)
                goal = exact(problem)
                start = _gaussian(goal.start_mean, goal.start_covariance)
                final = _gaussian(goal.mean, goal.covariance)
                for count in steps:
                    out = _guided_run(name, sampler, registry, prediction_type, values, at_scale, start, count, samples, seed)
                    error, detail = _metric(final, out, None)
                    report.measurements.append(Measurement(case, count, error, detail))
                judge_convergence(report, case, tolerance, slack)
    return report.raise_for_failures() if raise_on_failure else report


def _self_convergence(report, case, name, sampler, registry, prediction_type, params, scale, steps, samples, seed):
    """No exact target: the samples must approach those of a run with twice the most steps (sliced W2,
    relative, to an independent sample, so that ODE and SDE samplers are compared alike)."""
    start = _gaussian(COND_MEAN, SHARED_COVARIANCE)
    samples = min(samples, 8192)
    reference = _guided_run(name, sampler, registry, prediction_type, params, scale, start, 2 * max(steps), samples,
                            seed + 1)
    spread = math.sqrt(float(np.mean(np.var(reference, axis=0, ddof=1))))
    for count in steps:
        out = _guided_run(name, sampler, registry, prediction_type, params, scale, start, count, samples, seed)
        error = sliced_w2(out, reference) / spread if np.isfinite(out).all() else math.inf
        report.measurements.append(Measurement(case, count, error))
    judge_convergence(report, case, tolerance_for(samples, reference.shape[1]), slack_for(samples, reference.shape[1]))
