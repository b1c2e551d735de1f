"""Which RePaint sampler fills best with the photo model? The evaluation's cases (`--crops 1 --subset 8`, seed 0: a
box and a stroke mask per photo), each variant averaged over K samples, against Telea and Navier-Stokes.

Variants:
  repaint          Studio's sampler (DDIM "trailing" timesteps, eta 1, the known region re-imposed, resampling)
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
from studio.train.ops import from_unit, to_unit
from studio.train.starter_model import load_starter
from studio.train import starter_inference as si

model = load_starter(sys.argv[1], device="cpu", dtype=torch.float32)
K = int(sys.argv[2])
VARIANTS = sys.argv[3:]
FIRST = int(os.environ.get("FIRST", 0))  # 8: the next 8 held-out photos, to confirm a choice made on the first 8
photos = load_photos("data/starter", HELDOUT, limit=FIRST + 8)[FIRST:]
STEPS, RESAMPLE = 25, int(os.environ.get("RESAMPLE", 4))


def scheduler(spacing):
    from diffusers import DDIMScheduler
    extra = {"steps_offset": 1} if spacing == "leading" else {}
    s = DDIMScheduler.from_config(model.scheduler_config, timestep_spacing=spacing, set_alpha_to_one=True, **extra)
    s.set_timesteps(STEPS)
    return s


def mcg_fill(truth, mask, seed, scale, spacing="trailing"):
    """RePaint with resampling as in starter_inference._sample, plus the MCG gradient step."""
    known = to_unit(truth, "cpu").expand(K, -1, -1, -1)
    keep = torch.from_numpy((mask == 0).astype(np.float32))[None, None]
    generator = torch.Generator().manual_seed(seed)
    sched = scheduler(spacing)
    x = si._noise(known.shape, generator, known)
    total = len(sched.timesteps)
    for i, t in enumerate(sched.timesteps):
        t = int(t)
        a = si._alpha(sched, t)
        for attempt in range(RESAMPLE):
            noised = a ** 0.5 * known + (1 - a) ** 0.5 * si._noise(known.shape, generator, known)
            x = (keep * noised + (1 - keep) * x).detach()
            if scale:
                x.requires_grad_(True)
                with torch.enable_grad():
                    eps = model.unet(x, t).sample.float()
                    x0 = (x - (1 - a) ** 0.5 * eps) / a ** 0.5
                    norm = (keep * (known - x0)).flatten(1).norm(dim=1)
                    grad = torch.autograd.grad(norm.sum(), x)[0]
                eps, x = eps.detach(), x.detach()
            else:
                with torch.no_grad():
                    eps = model.unet(x, t).sample.float()
            out = sched.step(eps, t, x, eta=1.0, variance_noise=si._noise(x.shape, generator, x))
            previous = out.prev_sample - scale * grad if scale else out.prev_sample
            if attempt + 1 < RESAMPLE:
                ratio = a / si._alpha(sched, si._previous(sched, t))
                x = ratio ** 0.5 * previous + (1 - ratio) ** 0.5 * si._noise(x.shape, generator, x)
        x = previous if i + 1 < total else out.pred_original_sample
    filled = (keep * known + (1 - keep) * x).mean(dim=0, keepdim=True)
    return np.where(mask[..., None] > 0, from_unit(filled), truth)


def run(variant, truth, mask, seed):
    if variant == "repaint":
        return mcg_fill(truth, mask, seed, 0.0)
    if variant == "leading":
        return mcg_fill(truth, mask, seed, 0.0, "leading")
    if variant.startswith("mcg:"):
        return mcg_fill(truth, mask, seed, float(variant[4:]))
    if variant.startswith("leading-mcg:"):
        return mcg_fill(truth, mask, seed, float(variant[12:]), "leading")
    raise SystemExit(f"unknown variant {variant}")


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
