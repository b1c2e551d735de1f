"""Data with an exact answer: Gaussian mixtures, their exact denoiser, and distances between distributions.

For data x0 ~ sum_k w_k N(mu_k, C_k) and x = x0 + sigma * noise ("sigma space"), the posterior of x0 given x
is a mixture of Gaussians in closed form, so the ideal denoiser E[x0 | x] -- what a perfectly trained model
predicts -- is exact:

    r_k(x) ∝ w_k N(x; mu_k, C_k + sigma^2 I)             (responsibilities)
    E[x0 | x] = sum_k r_k(x) (mu_k + C_k (C_k + sigma^2 I)^-1 (x - mu_k))

`ExactModel` wraps it as a UNet (same call signature, output as noise, v or sample prediction), so the
engine's real schedulers, adapters and guidance run on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from studio.engine.sigmas import NoiseSchedule


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for a tall `a`, through torch: numpy's BLAS thread pool spins on a busy machine (the checks run
    torch on one thread), and numpy's einsum is slow."""
    return (torch.from_numpy(np.ascontiguousarray(a)) @ torch.from_numpy(np.ascontiguousarray(b))).numpy()


def _mahalanobis(centred: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    return (_matmul(centred, inverse) * centred).sum(axis=1)


@dataclass(frozen=True)
class GaussianMixture:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, d)
    covariances: np.ndarray  # (K, d, d), symmetric positive definite

    @classmethod
    def gaussian(cls, mean, covariance) -> "GaussianMixture":
        mean = np.asarray(mean, dtype=np.float64)
        return cls(np.ones(1), mean[None], np.asarray(covariance, dtype=np.float64)[None])

    @classmethod
    def of(cls, weights, means, covariances) -> "GaussianMixture":
        weights = np.asarray(weights, dtype=np.float64)
        return cls(weights / weights.sum(), np.asarray(means, np.float64), np.asarray(covariances, np.float64))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def is_gaussian(self) -> bool:
        return len(self.weights) == 1

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        mean = self.mean()
        spread = np.einsum("k,ki,kj->ij", self.weights, self.means - mean, self.means - mean)
        return np.einsum("k,kij->ij", self.weights, self.covariances) + spread

    def shifted(self, offset) -> "GaussianMixture":
        return GaussianMixture(self.weights, self.means + np.asarray(offset, np.float64), self.covariances)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n samples, (n, d) float64."""
        component = torch.multinomial(torch.as_tensor(self.weights), n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        component, noise = component.numpy(), noise.numpy()
        roots = np.linalg.cholesky(self.covariances)
        drawn = self.means[component].copy()
        for k in range(len(self.weights)):
            rows = component == k
            drawn[rows] += _matmul(noise[rows], roots[k].T)
        return torch.from_numpy(drawn)

    def denoise(self, x, sigma: float) -> np.ndarray:
        """E[x0 | x0 + sigma * noise = x] for rows of x (n, d), in float64 (numpy: torch's float64 matmul of
        tall matrices is an order of magnitude slower)."""
        x = np.asarray(x, dtype=np.float64)
        eye = np.eye(self.dim)
        log_r, posterior = [], []
        for w, mu, cov in zip(self.weights, self.means, self.covariances):
            total = cov + sigma * sigma * eye
            inverse = np.linalg.inv(total)
            centred = x - mu
            # C (C + s^2 I)^-1 is symmetric
            posterior.append(mu + _matmul(centred, inverse @ cov))
            if not self.is_gaussian:
                mahalanobis = _mahalanobis(centred, inverse)
                log_r.append(np.log(w) - 0.5 * (mahalanobis + np.linalg.slogdet(total)[1]))
        if self.is_gaussian:
            return posterior[0]
        log_r = np.stack(log_r)
        r = np.exp(log_r - log_r.max(axis=0))
        r /= r.sum(axis=0)
        return np.einsum("kn,knd->nd", r, np.stack(posterior))

    def flow(self, x, sigma: float, steps: int = 400) -> np.ndarray:
        """Where the probability-flow ODE takes x from noise level sigma to 0: the exact consistency function.
        Closed form for a Gaussian (x0 = mu + C^1/2 (C + sigma^2)^-1/2 (x - mu)); for a mixture, a fine Heun
        integration in log sigma of the exact ODE."""
        x = np.asarray(x, dtype=np.float64)
        if self.is_gaussian:
            values, vectors = np.linalg.eigh(self.covariances[0])
            gain = vectors @ np.diag(np.sqrt(values / (values + sigma * sigma))) @ vectors.T
            return self.means[0] + _matmul(x - self.means[0], gain)
        levels = np.concatenate([np.exp(np.linspace(np.log(sigma), np.log(1e-3), steps)), [0.0]])
        for s, s_next in zip(levels[:-1], levels[1:]):
            d = (x - self.denoise(x, s)) / s
            x_next = x + (s_next - s) * d
            if s_next > 0:
                x_next = x + (s_next - s) * 0.5 * (d + (x_next - self.denoise(x_next, s_next)) / s_next)
            x = x_next
        return x


class ExactModel(torch.nn.Module):
    """A UNet stand-in whose prediction is exact for Gaussian-mixture data.

    Latents are (n, d, 1, 1). `encoder_hidden_states` (n, 1) says which distribution each row is conditioned
    on, as a text embedding would: 1 the conditional one, 0 the unconditional. With `consistency=True` it
    predicts the endpoint of the probability-flow ODE instead of the posterior mean (what a distilled
    consistency model such as LCM learns)."""

    def __init__(self, schedule: NoiseSchedule, cond: GaussianMixture, uncond: GaussianMixture | None = None,
                 consistency: bool = False):
        super().__init__()
        self.schedule = schedule
        self.distributions = {1: cond, 0: uncond or cond}
        self.consistency = consistency
        self.config = SimpleNamespace(in_channels=cond.dim, out_channels=cond.dim, time_cond_proj_dim=None)
        self.evaluations = 0

    def _exact(self, distribution: GaussianMixture, x: np.ndarray, sigma: float) -> np.ndarray:
        return distribution.flow(x, sigma) if self.consistency else distribution.denoise(x, sigma)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def forward(self, sample, timestep, encoder_hidden_states=None, return_dict=False, **unused):
        t = float(timestep.flatten()[0]) if isinstance(timestep, torch.Tensor) else float(timestep)
        sigma = self.schedule.sigma_at(t)
        self.evaluations += 1
        scale = (1.0 + sigma * sigma) ** -0.5
        x = sample.flatten(1).double().numpy() / scale
        conditional = (encoder_hidden_states.flatten().numpy() > 0.5 if encoder_hidden_states is not None
                       else np.ones(sample.shape[0], dtype=bool))
        if self.distributions[0] is self.distributions[1]:
            conditional = np.ones_like(conditional)
        denoised = np.empty_like(x)
        for label, distribution in self.distributions.items():
            rows = conditional if label == 1 else ~conditional
            if rows.all():
                denoised = self._exact(distribution, x, sigma)
            elif rows.any():
                denoised[rows] = self._exact(distribution, x[rows], sigma)
        denoised, x = torch.from_numpy(denoised), torch.from_numpy(x)
        output = self.schedule.from_denoised(denoised.float(), (x * scale).float(), sigma)
        output = output.view_as(sample).to(sample.dtype)
        return (output,) if not return_dict else SimpleNamespace(sample=output)


# distances ----------------------------------------------------------------------------------------------------------


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T


def gaussian_w2(mean_a, cov_a, mean_b, cov_b) -> float:
    """2-Wasserstein distance between two Gaussians (closed form)."""
    root = _sqrtm(cov_b)
    cross = _sqrtm(root @ cov_a @ root)
    squared = np.sum((np.asarray(mean_a) - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * cross)
    return float(np.sqrt(max(squared, 0.0)))


def sliced_w2(a: np.ndarray, b: np.ndarray, projections: int = 24, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two equal-size samples (rows)."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(projections, a.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    pa, pb = np.sort(_matmul(a, directions.T), axis=0), np.sort(_matmul(b, directions.T), axis=0)
    return float(np.sqrt(np.mean((pa - pb) ** 2)))


def component_weights(samples: np.ndarray, mixture: GaussianMixture) -> np.ndarray:
    """Share of the samples each component explains (mean responsibility at sigma 0)."""
    log_r = []
    for w, mu, cov in zip(mixture.weights, mixture.means, mixture.covariances):
        centred = samples - mu
        mahalanobis = _mahalanobis(centred, np.linalg.inv(cov))
        log_r.append(np.log(w) - 0.5 * (mahalanobis + np.linalg.slogdet(cov)[1]))
    log_r = np.stack(log_r)
    r = np.exp(log_r - log_r.max(axis=0))
    return (r / r.sum(axis=0)).mean(axis=1)
