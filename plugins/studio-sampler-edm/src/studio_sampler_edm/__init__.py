"""Karras et al. 2022 (EDM) Heun sampler for Studio. This module is the plugin's manifest: no torch here."""

MANIFEST = {
    "name": "edm_heun",
    "kind": "sampler",
    "api_version": 1,
    "label": "EDM Heun (Karras 2022)",
    "description": "Karras et al. 2022, Algorithm 2: 2nd-order Heun steps with optional churn noise",
    "implementation": "studio_sampler_edm.sampler:sample",
    "style": "k-diffusion",
    "schedule": "karras",
    "stochastic": False,  # with the default s_churn = 0; churn makes it stochastic
    "parameters": [
        {"name": "s_churn", "type": "float", "default": 0.0, "min": 0.0, "max": 100.0, "step": 0.5,
         "label": "Churn", "help": "noise added back per step (0: deterministic, Algorithm 1)"},
        {"name": "s_tmin", "type": "float", "default": 0.0, "min": 0.0, "max": 100.0, "step": 0.01,
         "label": "Churn from sigma", "help": "churn only at noise levels at or above this"},
        {"name": "s_tmax", "type": "float", "default": 1000.0, "min": 0.0, "max": 1000.0, "step": 0.1,
         "label": "Churn up to sigma", "help": "churn only at noise levels at or below this"},
        {"name": "s_noise", "type": "float", "default": 1.0, "min": 0.9, "max": 1.1, "step": 0.001,
         "label": "Churn noise scale", "help": "the paper uses 1.003 to 1.007"},
    ],
}
