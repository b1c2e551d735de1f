"""Sadat, Hilliges & Weber 2024, "Eliminating Oversaturation and Artifacts of High Guidance Scales in
Diffusion Models", Algorithm 1, on denoised predictions (the paper applies it to D(x), as Studio gives)."""

from __future__ import annotations


def _dims(t):
    return tuple(range(1, t.dim()))


def project(v0, v1):
    """v0's components parallel and orthogonal to v1, per sample."""
    dims = _dims(v0)
    unit = v1 / v1.norm(p=2, dim=dims, keepdim=True).clamp_min(1e-12)
    parallel = (v0 * unit).sum(dim=dims, keepdim=True) * unit
    return parallel, v0 - parallel


def guide(step):
    eta, threshold, momentum = step.params["eta"], step.params["norm_threshold"], step.params["momentum"]
    diff = step.cond - step.uncond
    if momentum != 0.0:  # reverse momentum: running = diff + momentum * running (kept for the whole job)
        running = step.state.get("running")
        diff = diff if running is None else diff + momentum * running
        step.state["running"] = diff
    if threshold > 0:
        norm = diff.norm(p=2, dim=_dims(diff), keepdim=True)
        diff = diff * (threshold / norm.clamp_min(1e-12)).clamp(max=1.0)
    parallel, orthogonal = project(diff, step.cond)
    return step.cond + (step.scale - 1.0) * (orthogonal + eta * parallel)
