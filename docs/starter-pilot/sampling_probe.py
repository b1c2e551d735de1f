"""Which sampling settings help the photo model's box fills? Same cases as the evaluation (subset 8, 1 crop)."""
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
from studio.train.data import HELDOUT, PhotoCrops, load_photos
from studio.train.evaluate import box_mask, stroke_mask, telea, navier_stokes
from studio.train.metrics import psnr
from studio.train.ops import from_unit
from studio.train.starter_model import load_starter
from studio.train import starter_inference as si

model = load_starter(sys.argv[1], device="cpu", dtype=torch.float32)
photos = load_photos("data/starter", HELDOUT, limit=8)
settings = [dict(steps=25, resample=2), dict(steps=25, resample=4), dict(steps=50, resample=2), dict(steps=25, resample=2, eta=0.5)]
scores = {k: [] for k in ["ns", "telea"] + [str(s) for s in settings]}
size = model.native_size
t0 = time.time()
for p, (record, picture) in enumerate(photos):
    sampler = PhotoCrops([picture], size)
    rng = np.random.default_rng([0, p, 0])
    truth = from_unit(sampler.sample(1, rng))
    mask = box_mask(rng, size); region = mask > 0
    scores["ns"].append(psnr(truth, navier_stokes(truth, mask), region))
    scores["telea"].append(psnr(truth, telea(truth, mask), region))
    for s in settings:
        out = si.inpaint(model, truth, mask, seed=0, samples=4, **s)
        scores[str(s)].append(psnr(truth, out, region))
for k, v in scores.items():
    print(f"{k:50s} {np.mean(v):.2f}  {np.round(v,1)}")
print("seconds", round(time.time() - t0))
