"""Does the photo model fill better from a classical pre-fill ("masked content: fill", strength below 1) than from
noise (RePaint, strength 1)? The evaluation's cases (`--crops 1 --subset 8`, seed 0: a box and a stroke mask per
photo). Usage: python inpaint_fill_probe.py MODEL [N_PHOTOS]"""
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
from studio.train.data import HELDOUT, load_photos
from studio.train.evaluate import inpaint_inputs, navier_stokes, telea
from studio.train.metrics import gmsd, psnr, ssim
from studio.train.starter_model import load_starter
from studio.train import starter_inference as si

model = load_starter(sys.argv[1], device="cpu", dtype=torch.float32)
photos = load_photos("data/starter", HELDOUT, limit=int(sys.argv[2]) if len(sys.argv) > 2 else 8)
size = model.native_size
FILLS = {"telea": telea, "navier-stokes": navier_stokes}


def mean_of(k, make):
    return np.mean([make(seed).astype(np.float64) for seed in range(k)], axis=0).round().astype(np.uint8)


def methods(truth, mask):
    out = {"telea": telea(truth, mask), "navier-stokes": navier_stokes(truth, mask)}
    for fill in FILLS:
        start = FILLS[fill](truth, mask)
        for strength in (0.5, 0.7):
            for k in (1, 8):
                out[f"{fill} fill, strength {strength}, x{k}"] = mean_of(
                    k, lambda seed: si.sdedit(model, start, strength=strength, seed=seed, mask=mask))
    return out


scores, t0 = {}, time.time()
for record, c, kind, truth, mask in inpaint_inputs(photos, size, 1, 0):
    region = mask > 0
    for name, out in methods(truth, mask).items():
        scores.setdefault(name, []).append((psnr(truth, out, region), ssim(truth, out), gmsd(truth, out)))
    print(record.id, kind, round(time.time() - t0), flush=True)
print(f"{'method':40s} PSNR hole  SSIM    GMSD   ({len(scores['telea'])} cases)")
for name, rows in scores.items():
    m = np.mean(rows, axis=0)
    print(f"{name:40s} {m[0]:8.3f}  {m[1]:.4f}  {m[2]:.4f}")
print("seconds", round(time.time() - t0))
