"""Does starting the SR model's sampling part-way down, from the plain bicubic upsample (a zero residual noised to
that level, as in Chung et al.'s "come closer, diffuse faster"), make it more faithful? Same crops as the evaluation
(`--crops 1 --subset N`, seed 0). Usage: python sr_start_probe.py MODEL [N_PHOTOS [FIRST [SETTINGS]]], SETTINGS as
"0.7:4,0.85:4" (start:samples)."""
import sys, time
import numpy as np, torch
from PIL import Image
torch.set_num_threads(1)
from studio.train.data import HELDOUT, load_photos
from studio.train.evaluate import pil_upscale, sr_inputs
from studio.train.metrics import gmsd, psnr, ssim
from studio.train.ops import bicubic_up, from_unit, pad_to_multiple, to_unit
from studio.train.starter_model import load_starter
from studio.train import starter_inference as si

model = load_starter(sys.argv[1], device="cpu", dtype=torch.float32)
photos = load_photos("data/starter", HELDOUT, limit=int(sys.argv[2]) if len(sys.argv) > 2 else 4)
first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
settings = [(1.0, 1), (1.0, 4), (0.7, 1), (0.7, 4), (0.5, 1), (0.5, 4), (0.3, 1), (0.3, 4)]
if len(sys.argv) > 4:
    settings = [(float(a), int(b)) for a, b in (item.split(":") for item in sys.argv[4].split(","))]


def upscale(low, strength, samples, steps=20, seed=0):
    scale = int(model.scale)
    condition, size = pad_to_multiple(bicubic_up(to_unit(low, "cpu"), (low.shape[0] * scale, low.shape[1] * scale)),
                                      model.multiple)
    condition = condition.expand(samples, -1, -1, -1)
    generator = torch.Generator().manual_seed(seed)
    scheduler = si._scheduler(model, steps)
    start = int(round(steps * strength))
    timesteps = scheduler.timesteps[steps - start:]
    a = si._alpha(scheduler, int(timesteps[0]))
    x = (1 - a) ** 0.5 * si._noise(condition.shape, generator, condition)  # the zero residual, noised
    x = si._sample(model, scheduler, x, timesteps, generator, 0.0, condition=condition, tile=256, overlap=32)
    picture = (condition + x / model.residual_scale).clamp(-1, 1)
    return from_unit(picture.mean(dim=0, keepdim=True)[..., :size[0], :size[1]])


scores = {}
t0 = time.time()
# one crop a photo: the n-th case is the n-th photo's
for n, (record, c, truth, low) in enumerate(sr_inputs(photos, int(model.scale), model.multiple, 1, 0, 256)):
    if n < first:
        continue
    outputs = {"lanczos": pil_upscale(low, int(model.scale), Image.Resampling.LANCZOS)}
    for strength, samples in settings:
        outputs[f"start {strength} mean of {samples}"] = upscale(low, strength, samples)
    for name, out in outputs.items():
        scores.setdefault(name, []).append((psnr(truth, out), ssim(truth, out), gmsd(truth, out)))
    print(n, round(time.time() - t0), flush=True)
for name, rows in scores.items():
    m = np.mean(rows, axis=0)
    print(f"{name:28s} PSNR {m[0]:.3f}  SSIM {m[1]:.4f}  GMSD {m[2]:.4f}")
print("seconds", round(time.time() - t0))
