"""Export a checkpoint's EMA weights as a starter model folder (for evaluating a run part-way)."""
import json, sys
from pathlib import Path
import torch
from diffusers.training_utils import EMAModel
from studio.train.config import TrainConfig
from studio.train.trainer import build_unet, build_scheduler
from studio.train.starter_model import save_starter

checkpoint, model_dir, out = sys.argv[1:4]
state = torch.load(checkpoint, weights_only=False, map_location="cpu")
info = json.loads((Path(model_dir) / "studio-starter.json").read_text())
config = TrainConfig.from_json(state["config"])
unet = build_unet(config)
ema = EMAModel(unet.parameters(), decay=config.ema_decay, use_ema_warmup=True, power=config.ema_power)
ema.load_state_dict(state["ema"])
ema.copy_to(unet.parameters())
info["training"]["steps"] = state["step"]
save_starter(out, unet.eval(), build_scheduler(config), info)
print("exported step", state["step"])
