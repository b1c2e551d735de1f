"""Adaptive projected guidance (Sadat et al. 2024) for Studio. This module is the manifest: no torch here."""

MANIFEST = {
    "name": "apg",
    "kind": "guidance",
    "api_version": 1,
    "label": "Adaptive projected guidance (APG)",
    "description": "Sadat et al. 2024: CFG without its parallel component, norm-capped, with reverse momentum",
    "implementation": "studio_guidance_apg.guidance:guide",
    "needs": ["cond", "uncond"],
    "neutral_scale": 1.0,
    "cfg_equivalent": {"eta": 1.0, "norm_threshold": 0.0, "momentum": 0.0},
    "parameters": [
        {"name": "eta", "type": "float", "default": 0.0, "min": 0.0, "max": 1.0, "step": 0.05,
         "label": "Parallel weight", "help": "weight of the update's component along the conditional prediction"},
        {"name": "norm_threshold", "type": "float", "default": 15.0, "min": 0.0, "max": 100.0, "step": 0.5,
         "label": "Norm threshold", "help": "cap on the update's norm per latent (0: no cap)"},
        {"name": "momentum", "type": "float", "default": -0.5, "min": -0.95, "max": 0.95, "step": 0.05,
         "label": "Momentum", "help": "negative values push away from the previous steps' update"},
    ],
}
