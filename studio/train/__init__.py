"""Studio's own starter models: data gathering, DDPM training, sampling and evaluation.

Nothing here is imported by the window at start-up; torch and diffusers load only when a function is used.

    data.py               the photographs (scikit-image, Debian packages), licence checks, held-out split, crops
    sources.py            the hand-checked catalogue of photographs and licences
    config.py             training configurations (presets tiny-cpu, tiny-cpu-sr, starter, starter-sr)
    trainer.py            train_unconditional / train_super_resolution: the DDPM recipe, resumable, EMA
    starter_model.py      the saved folder format (unet/, scheduler/, studio-starter.json); load_starter
    starter_inference.py  inpaint (RePaint with the manifold constraint), sdedit, upscale (SR3) on uint8 pictures
    evaluate.py           held-out comparison with OpenCV inpainting and Pillow resampling
    __main__.py           python -m studio.train {data,unconditional,sr,evaluate,export}
"""

_EXPORTS = {
    "train_unconditional": "studio.train.trainer",
    "train_super_resolution": "studio.train.trainer",
    "TrainConfig": "studio.train.config",
    "PRESETS": "studio.train.config",
    "load_starter": "studio.train.starter_model",
    "read_starter_info": "studio.train.starter_model",
    "inpaint": "studio.train.starter_inference",
    "sdedit": "studio.train.starter_inference",
    "upscale": "studio.train.starter_inference",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'studio.train' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
