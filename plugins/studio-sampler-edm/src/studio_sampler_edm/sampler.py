"""Karras, Aittala, Aila & Laine 2022, "Elucidating the Design Space of Diffusion-Based Generative Models",
Algorithm 2 (stochastic sampler with Heun's 2nd-order method; S_churn = 0 gives Algorithm 1).

In the paper's notation t_i is the noise level sigma_i and D(x; t) the denoiser. Studio's plugin contract is
k-diffusion's: `sample(model, x, sigmas, callback, options)`, with `model(x, sigma) -> D(x; sigma)`.
"""

from __future__ import annotations

import math


def sample(model, x, sigmas, callback, options):
    steps = len(sigmas) - 1
    s_churn, s_tmin = options["s_churn"], options["s_tmin"]
    s_tmax, s_noise = options["s_tmax"], options["s_noise"]
    for i in range(steps):
        t_i, t_next = float(sigmas[i]), float(sigmas[i + 1])
        # line 4-6: increase the noise level temporarily ("churn")
        gamma = min(s_churn / steps, math.sqrt(2.0) - 1.0) if s_tmin <= t_i <= s_tmax else 0.0
        t_hat = t_i + gamma * t_i
        if gamma > 0:
            x = x + math.sqrt(t_hat**2 - t_i**2) * s_noise * options.noise(x)
        # line 7-8: Euler step from t_hat to t_{i+1}
        denoised = model(x, t_hat)
        d = (x - denoised) / t_hat
        x_next = x + (t_next - t_hat) * d
        # line 9-11: 2nd-order correction, unless t_{i+1} = 0
        if t_next != 0:
            d_prime = (x_next - model(x_next, t_next)) / t_next
            x_next = x + (t_next - t_hat) * (0.5 * d + 0.5 * d_prime)
        x = x_next
        callback({"i": i, "x": x, "sigma": t_i, "sigma_hat": t_hat, "denoised": denoised})
    return x
