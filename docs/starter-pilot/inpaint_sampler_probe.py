"""Which RePaint sampler fills best with the photo model? The evaluation's cases (`--crops 1 --subset 8`, seed 0: a
box and a stroke mask per photo), each variant averaged over K samples, against Telea and Navier-Stokes.

Variants:
  repaint          the sampler before session 7 (DDIM "trailing" timesteps, eta 1, known region re-imposed, resampling)
  leading          the same with "leading" timesteps, which end at t=1 instead of t=39 (less residual grain?)
  mcg:SCALE        plus the manifold-constraint gradient of Chung et al. 2022 (MCG): every step also moves x_t
                   down the gradient of ||known - x0_hat(x_t)|| over the known region, scaled by SCALE (DPS's
                   normalisation), so the generated region agrees with what the model predicts around it
  leading-mcg:SCALE  both

Usage: [RESAMPLE=4] [FIRST=0] python inpaint_sampler_probe.py MODEL K VARIANT [VARIANT ...]"""
import os, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from studio.train.data import HELDOUT, load_photos
from studio.train.evaluate import inpaint_inputs, navier_stokes, telea
from studio.train.metrics import gmsd, psnr, ssim
from studio.train.starter_model import load_starter
from studio.train import starter_inference as si

model = load_starter(sys.argv[1], device="cpu", dtype=torch.float32)
K = int(sys.argv[2])
VARIANTS = sys.argv[3:]
FIRST = int(os.environ.get("FIRST", 0))  # 8: the next 8 held-out photos, to confirm a choice made on the first 8
photos = load_photos("data/starter", HELDOUT, limit=FIRST + 8)[FIRST:]
STEPS, RESAMPLE = 25, int(os.environ.get("RESAMPLE", 4))


def run(variant, truth, mask, seed):
    """One variant's fill through starter_inference.inpaint, the app's own sampler (the same fills, bit for bit,
    as the loop this probe first ran with)."""
    kind, _, scale = variant.partition(":")
    if kind not in ("repaint", "leading", "mcg", "leading-mcg"):
        raise SystemExit(f"unknown variant {variant}")
    spacing = "leading" if kind.startswith("leading") else "trailing"
    return si.inpaint(model, truth, mask, steps=STEPS, eta=1.0, resample=RESAMPLE, consistency=float(scale or 0),
                      spacing=spacing, samples=K, seed=seed)


scores, t0 = {}, time.time()
for record, c, kind, truth, mask in inpaint_inputs(photos, model.native_size, 1, 0):
    region = mask > 0
    outputs = {"telea": telea(truth, mask), "navier-stokes": navier_stokes(truth, mask)}
    for variant in VARIANTS:
        outputs[variant] = run(variant, truth, mask, c)
    for name, out in outputs.items():
        scores.setdefault(name, {}).setdefault(kind, []).append(
            (psnr(truth, out, region), ssim(truth, out), gmsd(truth, out)))
    print(record.id, kind, round(time.time() - t0), flush=True)
print(f"held-out photos {FIRST}-{FIRST + 7}, mean of {K} samples, {STEPS} steps x resample {RESAMPLE}")
print(f"{'method':24s} {'all: PSNR hole  SSIM   GMSD':30s} {'box':22s} strokes")
for name, kinds in scores.items():
    rows = [np.mean(kinds["box"] + kinds["strokes"], axis=0), np.mean(kinds["box"], axis=0),
            np.mean(kinds["strokes"], axis=0)]
    print(f"{name:24s} " + "   ".join(f"{m[0]:6.2f} {m[1]:.4f} {m[2]:.4f}" for m in rows))
print("seconds", round(time.time() - t0))
