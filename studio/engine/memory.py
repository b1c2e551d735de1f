"""Memory policy: everything on the GPU, model offload, or sequential offload, chosen from free GPU memory,
with a retry one policy lower when a job runs out of memory."""

from __future__ import annotations

import torch

POLICIES = ("gpu", "model_offload", "sequential_offload")
HEADROOM = 1.5  # weights plus activations, attention and the VAE decode at the native size, roughly


def model_bytes(components: dict) -> int:
    return sum(
        p.numel() * p.element_size()
        for module in components.values() if isinstance(module, torch.nn.Module)
        for p in module.parameters()
    )


def choose_policy(device: torch.device, needed_bytes: int) -> str:
    """The fastest policy that fits: all on the GPU when the weights fit with headroom, else offload."""
    if device.type != "cuda":
        return "gpu"
    free, _ = torch.cuda.mem_get_info(device)
    if needed_bytes * HEADROOM < free:
        return "gpu"
    largest = needed_bytes // 2  # the UNet is about half of a Stable Diffusion model
    return "model_offload" if largest * HEADROOM < free else "sequential_offload"


def lower_policy(policy: str) -> str | None:
    index = POLICIES.index(policy)
    return POLICIES[index + 1] if index + 1 < len(POLICIES) else None


def apply_policy(pipe, policy: str, device: torch.device) -> None:
    """Install the policy on a freshly built pipeline (offloading only exists for accelerators)."""
    if device.type == "cpu" or policy == "gpu":
        return
    if policy == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def is_host_out_of_memory(error: BaseException) -> bool:
    """torch's CPU allocator failing ("DefaultCPUAllocator: not enough memory: you tried to allocate …")."""
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("not enough memory" in text or "can't allocate memory" in text)


def release_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()
