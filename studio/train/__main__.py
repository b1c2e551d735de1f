"""`python -m studio.train {data,unconditional,sr,evaluate,export}`: the starter models' whole pipeline.

See docs/starter-models.md for the commands of a full run.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path


def _data(args) -> int:
    from studio.train.data import gather, provenance_markdown
    from studio.train.sources import COPYLEFT, PERMISSIVE

    classes = (PERMISSIVE,) if args.licences == "permissive" else (PERMISSIVE, COPYLEFT)
    manifest = gather(args.out, use_skimage=not args.no_skimage, use_debian=not args.no_debian, deb_cache=args.deb_cache,
                      short_side=args.short_side, heldout_fraction=args.heldout_fraction, licence_classes=classes)
    if args.docs:
        Path(args.docs).parent.mkdir(parents=True, exist_ok=True)
        Path(args.docs).write_text(provenance_markdown(manifest, "python -m studio.train " + shlex.join(args.argv)))
    print(f"{len(manifest.photos)} photos ({len(manifest.split('train'))} train, {len(manifest.split('heldout'))} held out) "
          f"in {args.out}; {len(manifest.skipped)} skipped")
    for skipped in manifest.skipped:
        print(f"  skipped {skipped['id']}: {skipped['why']}")
    return 0


def _train(args, kind: str) -> int:
    from studio.train.config import SUPER_RESOLUTION, UNCONDITIONAL, load_config
    from studio.train.starter_model import load_starter, save_starter
    from studio.train.trainer import train

    config = load_config(args.config)
    wanted = UNCONDITIONAL if kind == "unconditional" else SUPER_RESOLUTION
    if config.kind != wanted:
        raise SystemExit(f"config {args.config!r} is for {config.kind}, not {wanted}")
    config = config.with_overrides(max_steps=args.max_steps, max_minutes=args.max_minutes, batch_size=args.batch_size,
                                   learning_rate=args.learning_rate, seed=args.seed,
                                   checkpoint_every=args.checkpoint_every, compile=args.compile or None)
    if args.dump_config:
        print(json.dumps(config.to_json(), indent=1))
        return 0
    result = train(config, args.data, args.out, device=args.device, resume=not args.no_resume,
                   progress=not args.no_progress)
    print(f"{result.stopped}: step {result.step}, loss {result.losses[-1][1] if result.losses else float('nan'):.4f}; "
          f"model in {result.model_dir}")
    if args.export:
        model = load_starter(result.model_dir)
        save_starter(args.export, model.unet, _scheduler(model), _info(model.info), args.max_shard_mb)
        print(f"exported to {args.export}")
    return 0


def _scheduler(model):
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(model.scheduler_config)


def _info(info: dict) -> dict:
    return {k: v for k, v in info.items() if k not in ("format", "multiple", "prompts")}


def _export(args) -> int:
    from studio.train.starter_model import load_starter, save_starter

    model = load_starter(args.source)
    save_starter(args.to, model.unet, _scheduler(model), _info(model.info), args.max_shard_mb)
    print(f"exported {args.source} to {args.to}")
    return 0


def _evaluate(args) -> int:
    from studio.train.evaluate import evaluate

    if not args.photo and not args.sr:
        raise SystemExit("name a model: --photo DIR and/or --sr DIR")
    report = evaluate(args.data, photo_model=args.photo, sr_model=args.sr, out_json=args.json, out_md=args.md,
                      subset=args.subset, steps=args.steps, sr_steps=args.sr_steps, seed=args.seed,
                      crops_per_photo=args.crops, sr_size=args.sr_size, samples=tuple(args.samples), device=args.device,
                      examples=args.examples, command="python -m studio.train " + shlex.join(args.argv))
    print("\n".join(report["verdicts"]))
    print(f"wrote {args.json} and {args.md} in {report['seconds']} s")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studio.train", description="Train and evaluate Studio's starter models.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="gather the photographs, check their licences, split off the held-out set")
    d.add_argument("--out", default="data/starter")
    d.add_argument("--deb-cache", default=None, help="where .deb files are downloaded (default: the user cache folder)")
    d.add_argument("--no-debian", action="store_true", help="scikit-image photos only")
    d.add_argument("--no-skimage", action="store_true")
    d.add_argument("--short-side", type=int, default=512)
    d.add_argument("--heldout-fraction", type=float, default=0.2)
    d.add_argument("--licences", choices=("free", "permissive"), default="free",
                   help="free: also share-alike/copyleft photos; permissive: public domain, CC0, CC BY only")
    d.add_argument("--docs", default="docs/data-provenance.md", help="write the provenance table here ('' for none)")

    for name, default in (("unconditional", "starter"), ("sr", "starter-sr")):
        t = sub.add_parser(name, help=f"train the {'photo' if name == 'unconditional' else 'super-resolution'} model")
        t.add_argument("--config", default=default, help="preset name (tiny-cpu, tiny-cpu-sr, starter, starter-sr) or JSON")
        t.add_argument("--data", default="data/starter")
        t.add_argument("--out", required=True, help="run folder: checkpoints, log, model/")
        t.add_argument("--max-steps", type=int)
        t.add_argument("--max-minutes", type=float)
        t.add_argument("--batch-size", type=int)
        t.add_argument("--learning-rate", type=float)
        t.add_argument("--checkpoint-every", type=int)
        t.add_argument("--seed", type=int)
        t.add_argument("--device", default=None)
        t.add_argument("--compile", action="store_true", help="torch.compile the UNet (CUDA)")
        t.add_argument("--no-resume", action="store_true", help="start over even if OUT has checkpoints")
        t.add_argument("--no-progress", action="store_true")
        t.add_argument("--export", default=None, help="also save the final model folder here")
        t.add_argument("--max-shard-mb", type=int, default=None, help="with --export: split weights into shards")
        t.add_argument("--dump-config", action="store_true", help="print the effective config and stop")

    e = sub.add_parser("evaluate", help="held-out comparison with Telea/Navier-Stokes and bicubic/Lanczos")
    e.add_argument("--data", default="data/starter")
    e.add_argument("--photo", default=None, help="the unconditional starter model folder")
    e.add_argument("--sr", default=None, help="the super-resolution starter model folder")
    e.add_argument("--subset", type=int, default=None, help="only the first N held-out photos (CI: 2)")
    e.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's own)")
    e.add_argument("--sr-steps", type=int, default=None)
    e.add_argument("--crops", type=int, default=3, help="crops per held-out photo")
    e.add_argument("--sr-size", type=int, default=256, help="high-resolution crop side for SR")
    e.add_argument("--samples", type=int, nargs="+", default=[1], help="also report the mean of K samples (inpainting and upscaling)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default=None)
    e.add_argument("--json", default="docs/starter-evaluation.json")
    e.add_argument("--md", default="docs/starter-evaluation.md")
    e.add_argument("--examples", default=None, help="folder for example sheets (PNG)")

    x = sub.add_parser("export", help="re-save a model folder (e.g. join shards: omit --max-shard-mb)")
    x.add_argument("source")
    x.add_argument("to")
    x.add_argument("--max-shard-mb", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    if args.command == "data":
        return _data(args)
    if args.command in ("unconditional", "sr"):
        return _train(args, args.command)
    if args.command == "evaluate":
        return _evaluate(args)
    return _export(args)


if __name__ == "__main__":
    sys.exit(main())
