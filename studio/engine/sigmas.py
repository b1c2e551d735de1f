"""A model's noise schedule seen as noise levels (sigmas), and its predictions seen as denoised estimates.

Every diffusers scheduler for Stable Diffusion is a view of one variance-preserving process,
x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise, which is x = x0 + sigma noise scaled by 1/sqrt(1 + sigma^2) with
sigma = sqrt((1 - a_t) / a_t). Plugins work in that "sigma space" with denoised predictions (k-diffusion's
convention); this module converts, whatever the model predicts (noise, v or the sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import EulerDiscreteScheduler

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


@dataclass(frozen=True)
class NoiseSchedule:
    log_sigmas: np.ndarray  # log sigma of each training timestep, ascending with t
    prediction_type: str = "epsilon"

    @classmethod
    def from_config(cls, config: dict) -> "NoiseSchedule":
        """The training schedule of a scheduler config (betas computed by diffusers itself)."""
        reference = EulerDiscreteScheduler.from_config(config)
        alphas = reference.alphas_cumprod.double().numpy()
        sigmas = np.sqrt((1.0 - alphas) / alphas)
        return cls(np.log(sigmas), config.get("prediction_type", "epsilon"))

    @property
    def sigma_min(self) -> float:
        return float(np.exp(self.log_sigmas[0]))

    @property
    def sigma_max(self) -> float:
        return float(np.exp(self.log_sigmas[-1]))

    def sigma_at(self, timestep: float) -> float:
        """The noise level of a (possibly fractional) timestep: the inverse of diffusers' `_sigma_to_t`,
        which interpolates log sigma linearly between training timesteps."""
        return float(np.exp(np.interp(float(timestep), np.arange(len(self.log_sigmas)), self.log_sigmas)))

    def timestep_at(self, sigma: float) -> float:
        """The (fractional) timestep of a noise level, as diffusers' `_sigma_to_t` computes it."""
        log_sigma = np.log(max(float(sigma), 1e-10))
        return float(np.interp(log_sigma, self.log_sigmas, np.arange(len(self.log_sigmas), dtype=np.float64)))

    def to_denoised(self, output: torch.Tensor, model_input: torch.Tensor, sigma: float) -> torch.Tensor:
        """The model's output at `model_input` (the scaled latents x / sqrt(1 + sigma^2)) as an estimate of x0."""
        scale = (1.0 + sigma * sigma) ** -0.5
        output, model_input = output.float(), model_input.float()
        if self.prediction_type == "epsilon":
            return model_input / scale - sigma * output
        if self.prediction_type == "v_prediction":
            return scale * model_input - sigma * scale * output
        return output

    def from_denoised(self, denoised: torch.Tensor, model_input: torch.Tensor, sigma: float) -> torch.Tensor:
        """The output the model would have given for this denoised estimate (the inverse of `to_denoised`)."""
        scale = (1.0 + sigma * sigma) ** -0.5
        denoised, model_input = denoised.float(), model_input.float()
        if self.prediction_type == "epsilon":
            return (model_input / scale - denoised) / sigma
        if self.prediction_type == "v_prediction":
            return (scale * model_input - denoised) / (sigma * scale)
        return denoised
