"""`studio bench`: Studio against stock diffusers, in one run, on random-weight models of the real architectures.

For each case (inpaint, sdedit, controlnet, upscale, and the 4096² memory cases upscale_4k and decode_4k) it
measures time per step, pictures per second for a batch of variations, peak GPU memory and warm-up time, for stock
diffusers first and then for Studio on the same weights, and how far their pictures for the same seed differ.
It prints a table and writes JSON with the environment and the exact command. `--ablate` measures each speed
switch of engine/speed.py alone; `--tiny` runs small models on the CPU in seconds (the tests use it).
Figures and the commands that made them live in docs/benchmarks/.

This module imports no torch at import time: `studio --help` and the window stay quick to start.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLING_CASES = ("inpaint", "sdedit", "controlnet")
ALL_CASES = (*SAMPLING_CASES, "upscale", "upscale_4k", "decode_4k")
FAMILIES = ("sd15", "sd2", "sdxl")
DTYPES = ("auto", "fp16", "bf16", "fp32")
ABLATION_SWITCHES = ("channels_last", "fuse_qkv", "attention", "compile", "compile_controlnet", "compile_dynamic",
                     "compile_tuning", "cudnn_benchmark", "embedding_cache", "vae_tiling", "dtype")
TOLERANCE_PSNR_DB = 25.0  # Studio vs stock, same seed, same dtype, on the compared region (see docs/benchmarks)
MEMORY_TARGET_GIB = 4.0


@dataclass(frozen=True)
class BenchOptions:
    families: tuple[str, ...] = ("sd15",)
    cases: tuple[str, ...] = ALL_CASES
    steps: int = 30
    steps_4k: int = 5
    batch: int = 8  # variations for the pictures-per-second comparison (0 or 1: none)
    batch_size: int | None = None  # pictures per forward pass; None: the engine's choice on CUDA, all of them elsewhere
    repeats: int = 3
    batch_repeats: int = 1
    size: int | None = None  # side of the sampling cases; None: the model's native size
    upscale_side: int = 256
    side_4k: int = 4096
    tile: tuple[int, int] = (128, 32)  # upscale_4k latent tile size and overlap (the recipe defaults)
    seed: int = 0
    sampler: str = "dpmpp_2m"
    guidance: float = 7.5
    device: str | None = None
    dtype: str = "auto"
    stock_dtype: str = "auto"
    stock: bool = True
    tiny: bool = False
    speed: str = ""  # "name=value,…" on top of the device's default speed settings
    ablate: tuple[str, ...] = ()
    ablate_case: str | None = None
    json_path: Path | None = Path("studio-bench.json")

    def command(self) -> str:
        """The `studio bench` command line that repeats this run."""
        parts = ["studio", "bench", "--family", *self.families, "--cases", ",".join(self.cases),
                 "--steps", str(self.steps), "--steps-4k", str(self.steps_4k), "--batch", str(self.batch),
                 "--repeats", str(self.repeats), "--batch-repeats", str(self.batch_repeats),
                 "--seed", str(self.seed), "--sampler", self.sampler, "--guidance", f"{self.guidance:g}",
                 "--dtype", self.dtype, "--stock-dtype", self.stock_dtype]
        parts += ["--upscale-size", str(self.upscale_side), "--big-size", str(self.side_4k)]
        for flag, value in (("--batch-size", self.batch_size), ("--size", self.size), ("--device", self.device)):
            if value is not None:
                parts += [flag, str(value)]
        if self.tiny:
            parts.append("--tiny")
        if not self.stock:
            parts.append("--no-stock")
        if self.speed:
            parts += ["--set", self.speed]
        if self.ablate:
            parts += ["--ablate", ",".join(self.ablate)]
        if self.ablate_case:
            parts += ["--ablate-case", self.ablate_case]
        if self.json_path is not None:
            parts += ["--json", str(self.json_path)]
        return shlex.join(parts)


TINY = {"steps": 2, "steps_4k": 1, "batch": 2, "repeats": 1, "size": 64, "upscale_side": 16, "side_4k": 128,
        "tile": (16, 4)}


# command line -----------------------------------------------------------------------------------------------------


def _names(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(filter(None, (part.strip() for part in text.split(","))))
        unknown = [n for n in names if n.split("=")[0] not in allowed and n != "all"]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or text!r}; known: {', '.join(allowed)}")
        return names

    return parse


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """The `bench` sub-command (for studio/cli.py)."""
    bench = subparsers.add_parser(
        "bench", help="measure speed and memory against stock diffusers on random-weight models",
        description="Builds the real-size architectures from the bundled configs with random weights (no download) "
                    "and measures each case with stock diffusers and with Studio in the same run: time per step, "
                    "pictures per second, peak GPU memory, warm-up, and how far the pictures differ. Prints a table "
                    "and writes JSON. See docs/benchmarks/README.md.")
    bench.add_argument("--family", nargs="+", choices=FAMILIES, default=None, help="model families (default sd15)")
    bench.add_argument("--cases", type=_names(ALL_CASES, "case"), default=None,
                       help=f"comma-separated, of {', '.join(ALL_CASES)} (default: all)")
    bench.add_argument("--steps", type=int, default=None, help="sampling steps (default 30)")
    bench.add_argument("--steps-4k", type=int, default=None, help="steps of the 4096² upscale (default 5)")
    bench.add_argument("--batch", type=int, default=None, help="variations for pictures per second (default 8; 0: skip)")
    bench.add_argument("--batch-size", type=int, default=None, help="Studio's pictures per forward pass (default: the engine's choice)")
    bench.add_argument("--repeats", type=int, default=None, help="steady calls per case after the warm-up (default 3)")
    bench.add_argument("--batch-repeats", type=int, default=None, help="steady batch runs (default 1)")
    bench.add_argument("--size", type=int, default=None, help="picture side of the sampling cases (default: native)")
    bench.add_argument("--upscale-size", type=int, default=None, help="input side of the upscale case (default 256)")
    bench.add_argument("--big-size", type=int, default=None, help="output side of upscale_4k and decode_4k (default 4096)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--sampler", default="dpmpp_2m")
    bench.add_argument("--guidance", type=float, default=7.5)
    bench.add_argument("--device", default=None, help="cuda, cuda:1, cpu… (default: cuda when there is one)")
    bench.add_argument("--dtype", choices=DTYPES, default="auto", help="Studio's dtype (auto: what Studio picks)")
    bench.add_argument("--stock-dtype", choices=DTYPES, default="auto", help="stock's dtype (auto: fp16 on GPUs, fp32 on CPU)")
    bench.add_argument("--no-stock", action="store_true", help="measure Studio only")
    bench.add_argument("--tiny", action="store_true", help="tiny models, 2 steps, 64 px: a smoke test that runs on a CPU")
    bench.add_argument("--set", dest="speed", default="", metavar="NAME=VALUE,…",
                       help="speed switches for Studio on top of the defaults, e.g. compile=off,attention=flash")
    bench.add_argument("--ablate", type=_names(ABLATION_SWITCHES, "switch"), nargs="?", const=("all",), default=None,
                       help="also run Studio with each switch flipped alone (all, or a comma-separated list, or name=value)")
    bench.add_argument("--ablate-case", choices=SAMPLING_CASES, default=None, help="the case ablations run (default: the first)")
    bench.add_argument("--json", type=Path, default=Path("studio-bench.json"), help="where to write the results")
    return bench


def options_from_args(args) -> BenchOptions:
    tiny = dict(TINY) if args.tiny else {}
    chosen = {name: getattr(args, name) for name in ("steps", "steps_4k", "batch", "repeats", "size")
              if getattr(args, name) is not None}
    if args.upscale_size is not None:
        chosen["upscale_side"] = args.upscale_size
    if args.big_size is not None:
        chosen["side_4k"] = args.big_size
    return BenchOptions(
        families=tuple(args.family or ("sd15",)), cases=tuple(args.cases or ALL_CASES),
        batch_size=args.batch_size, batch_repeats=args.batch_repeats or 1, seed=args.seed, sampler=args.sampler,
        guidance=args.guidance, device=args.device, dtype=args.dtype, stock_dtype=args.stock_dtype,
        stock=not args.no_stock, tiny=args.tiny, speed=args.speed, ablate=tuple(args.ablate or ()),
        ablate_case=args.ablate_case, json_path=args.json, **{**tiny, **chosen},
    )


def command_bench(args) -> int:
    """`studio bench`: run, print the table, write the JSON (rewritten after every case, so a run cut short
    keeps what it measured; "complete" tells)."""
    options = options_from_args(args)
    if options.ablate_case and options.ablate_case not in options.cases:
        from studio.core.errors import StudioError

        raise StudioError(f"--ablate-case {options.ablate_case} is not among --cases {','.join(options.cases)}")
    report = run_bench(options)
    print(format_report(report))
    if options.json_path is not None:
        print(f"wrote {options.json_path}")
    return 0


def write_json(path: Path | None, report: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(_finite(report), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


# the run ----------------------------------------------------------------------------------------------------------


def _dtype(name: str, device, stock: bool):
    import torch

    from studio.engine.speed import preferred_dtype

    if name == "auto":
        if stock:  # what diffusers' examples load (torch_dtype=torch.float16); full precision on a CPU
            return torch.float16 if device.type in ("cuda", "mps") else torch.float32
        return preferred_dtype(device)
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]


def _dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def environment(device) -> dict:
    import diffusers
    import torch
    import transformers

    import studio

    info = {
        "device": str(device), "device_name": platform.processor() or platform.machine(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "diffusers": diffusers.__version__,
        "transformers": transformers.__version__, "python": platform.python_version(), "studio": studio.__version__,
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                    memory_gib=round(props.total_memory / 2**30, 1), multiprocessors=props.multi_processor_count,
                    cudnn=torch.backends.cudnn.version())
    return info


@dataclass
class Run:
    """What every part of one benchmark run shares."""

    options: BenchOptions
    device: Any
    stock_dtype: Any
    studio_dtype: Any
    settings: Any  # engine/speed.SpeedSettings for Studio
    rows: list = field(default_factory=list)
    ablation: list = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def report(self, complete: bool) -> dict:
        report = {
            "command": self.options.command(), "argv": shlex.join(sys.argv), "complete": complete,
            "environment": environment(self.device), "stock_dtype": _dtype_name(self.stock_dtype),
            "studio_dtype": _dtype_name(self.studio_dtype), "studio_settings": self.settings.to_dict(),
            "studio_switches": _switches(self.device, self.settings),
            "tolerance_psnr_db": TOLERANCE_PSNR_DB, "cases": self.rows, "ablation": self.ablation,
            "duration_s": round(time.perf_counter() - self.started, 1),
        }
        report["targets"] = evaluate_targets(report, self.device)
        return report

    def add(self, row: dict, ablation: bool = False) -> None:
        """Record a result, say so on stderr, and save what is measured so far."""
        (self.ablation if ablation else self.rows).append(row)
        if ablation:
            line = f"ablation {row['variant']}: {_per_step(row)} ms/step"
        else:
            line = f"stock {_per_step(row.get('stock') or {})}, studio {_per_step(row.get('studio') or {})} (ms/step)"
        print(f"[bench] {row['family']} {row['case']} {line}", file=sys.stderr, flush=True)
        write_json(self.options.json_path, self.report(complete=False))

    def side(self, native: int) -> int:
        return self.options.size or native

    def stock_defaults(self) -> None:
        """Process-wide switches as stock diffusers leaves them (a Studio phase before may have changed them)."""
        import torch

        torch.backends.cudnn.benchmark = False

    def free(self, *stores) -> None:
        import gc

        import torch

        from studio.engine.speed import release_compiled

        for store in stores:
            store.release()
        release_compiled()
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def run_bench(options: BenchOptions) -> dict:
    import diffusers
    import torch
    import transformers

    from studio.engine.speed import default_settings

    device = torch.device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    settings = default_settings(device)
    if options.speed:
        settings = settings.with_text(options.speed)
    run = Run(options, device, _dtype(options.stock_dtype, device, True), _dtype(options.dtype, device, False), settings)
    print(f"[bench] {options.command()}", file=sys.stderr, flush=True)
    threads = torch.get_num_threads()
    if options.tiny and device.type == "cpu":
        torch.set_num_threads(1)  # tiny tensors: threads only add synchronisation (and stall on a busy machine)
    levels = diffusers.utils.logging.get_verbosity(), transformers.logging.get_verbosity()
    diffusers.utils.logging.set_verbosity_error()  # "modules to keep in float32" after .to(dtype), and the like
    transformers.logging.set_verbosity_error()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # diffusers' deprecation notes on the tiny configs
        try:
            sampling = [case for case in options.cases if case in SAMPLING_CASES]
            for family in options.families:
                if sampling:
                    bench_family(run, family, sampling)
            if "upscale" in options.cases or "upscale_4k" in options.cases:
                bench_upscaler(run)
            if "decode_4k" in options.cases:
                bench_decode(run, options.families[0])
        finally:
            torch.set_num_threads(threads)
            diffusers.utils.logging.set_verbosity(levels[0])
            transformers.logging.set_verbosity(levels[1])
    report = run.report(complete=True)
    write_json(options.json_path, report)
    return report


def _switches(device, settings) -> dict:
    """What each speed switch does on this device (CUDA-only ones say "skipped" elsewhere)."""
    from studio.engine.speed import describe

    return describe(settings, device)


def _agreement(studio_picture, stock_picture, region, dtypes: tuple[str, str]) -> dict:
    from studio.engine.bench_cases import agreement

    result = agreement(studio_picture, stock_picture, region)
    result["dtypes"] = list(dtypes)
    if dtypes[0] == dtypes[1] and "error" not in result:
        psnr = result["psnr_db"]
        result["tolerance_psnr_db"] = TOLERANCE_PSNR_DB
        result["within"] = psnr is None or psnr >= TOLERANCE_PSNR_DB
    return result


def bench_family(run: Run, family: str, names: list[str]) -> None:
    """The sampling cases of one family: stock first (pristine modules), then Studio (optimized in place)."""
    from studio.engine import bench_cases as cases
    from studio.engine import bench_models as models
    from studio.engine.speed import applied

    options, device = run.options, run.device
    store = models.BenchStore(device, run.stock_dtype)
    base = models.build_model(family, device, run.stock_dtype, options.tiny, options.seed)
    store.models[f"bench:{family}"] = base
    if "inpaint" in names:
        store.models[f"bench:{family}_inpaint"] = models.build_model(
            f"{family}_inpaint", device, run.stock_dtype, options.tiny, options.seed, share=base)
    if "controlnet" in names:
        store.controlnets[f"bench:controlnet-{family}"] = models.build_controlnet(base, options.seed)
    side = run.side(base.native_size)
    todo = [cases.SamplingCase(
        name, family, f"bench:{family}_inpaint" if name == "inpaint" else f"bench:{family}",
        f"bench:controlnet-{family}" if name == "controlnet" else None, side, options.steps, options.guidance,
        options.sampler, options.seed) for name in names]
    rows = {case.name: {"family": family, "case": case.name, "width": side, "height": side, "steps": options.steps,
                        "sampler": options.sampler, "guidance": options.guidance, "strength": case.strength,
                        "stock": None, "studio": None, "agreement": {}} for case in todo}
    batch = options.batch if options.batch > 1 else 0
    stock_pictures, same_dtype_pictures = {}, {}
    run.stock_defaults()
    if options.stock:
        for case in todo:
            def stock_case(case=case):
                row, picture, _ = cases.measure_stock(case, store, device, options.repeats, batch, options.batch_repeats)
                stock_pictures[case.name] = picture
                return row
            rows[case.name]["stock"] = cases.run_guarded(stock_case, device)
    dtypes = (_dtype_name(run.studio_dtype), _dtype_name(run.stock_dtype))
    if run.studio_dtype != run.stock_dtype:
        for index, model in enumerate(store.models.values()):
            models.convert(model, run.studio_dtype, list(store.controlnets.values()) if index == 0 else [])
        if options.stock:  # one stock picture in Studio's dtype: the agreement of the optimizations alone
            for case in todo:
                def stock_picture(case=case):
                    return {"picture": cases.stock_call(case, store, case.inputs())(case.seed)[0]}
                result = cases.run_guarded(stock_picture, device)
                if "picture" in result:
                    same_dtype_pictures[case.name] = result["picture"]
    else:
        same_dtype_pictures = stock_pictures
    store.dtype = run.studio_dtype
    for model in store.models.values():
        model.extra["speed"] = run.settings
    batch_size = options.batch_size if options.batch_size is not None else (0 if device.type == "cuda" else batch)
    for case in todo:
        row = rows[case.name]
        steps = expected_steps(case)

        def studio_case(case=case, row=row):
            result, picture = cases.measure_studio(case, store, device, options.repeats, batch,
                                                   options.batch_repeats, batch_size, steps)
            result["task_switch_ms"] = cases.task_switch_ms(case, store, device)
            region = case.compared_region(case.inputs())
            if case.name in same_dtype_pictures:
                row["agreement"]["same_dtype"] = _agreement(picture, same_dtype_pictures[case.name], region,
                                                            (dtypes[0], dtypes[0]))
            if case.name in stock_pictures and run.studio_dtype != run.stock_dtype:
                row["agreement"]["vs_stock_dtype"] = _agreement(picture, stock_pictures[case.name], region, dtypes)
            return result

        row["studio"] = cases.run_guarded(studio_case, device)
        model = store.models[case.model_key]
        modules = {"unet": model.components["unet"], "vae": model.components["vae"]}
        if case.controlnet_key:
            modules["controlnet"] = store.controlnets[case.controlnet_key]
        row["studio_optimizations"] = {name: applied(module) for name, module in modules.items()}
        _speedups(row)
        run.add(row)
    if options.ablate:
        target = next((c for c in todo if c.name == (options.ablate_case or todo[0].name)), None)
        if target is not None:
            ablate(run, store, target, same_dtype_pictures.get(target.name))
    run.free(store)


def expected_steps(case) -> int:
    """Denoising steps a call runs: img2img starts `strength` of the way into the schedule (as diffusers does)."""
    from studio.engine.sdedit import img2img_steps  # torch and diffusers: imported when a bench runs

    return img2img_steps(case.steps, case.strength) if case.name == "sdedit" else case.steps


def _speedups(row: dict) -> None:
    stock, studio = row.get("stock") or {}, row.get("studio") or {}
    speedup = {}
    if stock.get("ms_per_step") and studio.get("ms_per_step"):
        speedup["per_step"] = round(stock["ms_per_step"] / studio["ms_per_step"], 3)
    if (stock.get("batch") or {}).get("pictures_per_s") and (studio.get("batch") or {}).get("pictures_per_s"):
        speedup["pictures_per_s"] = round(studio["batch"]["pictures_per_s"] / stock["batch"]["pictures_per_s"], 3)
    if stock.get("peak_gib") and studio.get("peak_gib"):
        speedup["peak_memory_ratio"] = round(studio["peak_gib"] / stock["peak_gib"], 3)
    row["speedup"] = speedup


# ablation ---------------------------------------------------------------------------------------------------------


def ablation_variants(settings, studio_dtype, which: tuple[str, ...], case: str = "inpaint") -> list[tuple[str, Any, Any]]:
    """(label, settings, dtype): the defaults, then each switch flipped alone. "all" leaves out the switches that
    cannot change the case's figures: ControlNet compilation without a ControlNet, VAE tiling at the native size
    (decode_4k shows what it does)."""
    import torch

    variants = [("defaults", settings, studio_dtype)]
    irrelevant = {"vae_tiling"} | ({"compile_controlnet"} if case != "controlnet" else set())
    switches = [s for s in ABLATION_SWITCHES if s not in irrelevant] if "all" in which else which
    for switch in switches:
        if "=" in switch:
            variants.append((switch, settings.with_text(switch), studio_dtype))
        elif switch == "dtype":
            other = torch.float16 if studio_dtype == torch.bfloat16 else torch.bfloat16
            variants.append((f"dtype={_dtype_name(other)}", settings, other))
        else:
            value = getattr(settings, switch)
            if isinstance(value, bool):
                flips = [not value]
            elif switch in ("compile", "compile_controlnet"):
                flips = ["off"] if value != "off" else ["reduce-overhead"]
                flips += ["default"] if value == "reduce-overhead" else []
            elif switch == "attention":
                flips = [kernel for kernel in ("default", "flash", "cudnn") if kernel != value]
            else:  # compile_dynamic
                flips = [False] if value is None else [None]
            for flip in flips:
                label = f"{switch}={'auto' if flip is None else flip}".replace("True", "on").replace("False", "off")
                variants.append((label, settings.replace(**{switch: flip}), studio_dtype))
    return variants


def ablate(run: Run, store, case, reference) -> None:
    """Studio on one case with each variant of the speed settings: warm-up, then steady time per step."""
    from studio.engine import bench_cases as cases
    from studio.engine import bench_models as models
    from studio.engine.speed import release_compiled

    device, options = run.device, run.options
    defaults_ms = None
    for label, settings, dtype in ablation_variants(run.settings, run.studio_dtype, options.ablate, case.name):
        for model in store.models.values():
            model.extra["speed"] = settings
        if dtype != next(iter(store.models.values())).dtype:
            for model in store.models.values():
                models.convert(model, dtype, list(store.controlnets.values()))
        release_compiled()  # every variant compiles afresh (from the persistent cache where it can)
        steps = expected_steps(case)

        def variant(case=case, steps=steps):
            result, picture = cases.measure_studio(case, store, device, options.repeats, 0, 1, 1, steps)
            if reference is not None and dtype == run.studio_dtype:
                result["agreement"] = _agreement(picture, reference, case.compared_region(case.inputs()),
                                                 (_dtype_name(dtype), _dtype_name(dtype)))
            return result

        row = {"variant": label, "case": case.name, "family": case.family, "dtype": _dtype_name(dtype),
               "settings": settings.to_dict(), "switches": _switches(device, settings),
               **cases.run_guarded(variant, device)}
        if label == "defaults":
            defaults_ms = row.get("ms_per_step")
        if defaults_ms and row.get("ms_per_step"):
            row["vs_defaults"] = round(row["ms_per_step"] / defaults_ms, 3)
        run.add(row, ablation=True)


# upscaling and decoding -----------------------------------------------------------------------------------------


def bench_upscaler(run: Run) -> None:
    from studio.engine import bench_cases as cases
    from studio.engine import bench_models as models
    from studio.engine.speed import applied

    options, device = run.options, run.device
    store = models.BenchStore(device, run.stock_dtype)
    store.models["bench:upscaler"] = models.build_upscaler(device, run.stock_dtype, options.tiny, options.seed)
    todo = []
    if "upscale" in options.cases:  # untiled, as stock runs it: the same computation, so the pictures compare
        todo.append(cases.UpscaleCase("upscale", "bench:upscaler", options.upscale_side, options.steps,
                                      options.guidance, options.sampler, options.seed, 4096, 32))
    if "upscale_4k" in options.cases:  # the engine's tiling, stock's whole latent at once
        todo.append(cases.UpscaleCase("upscale_4k", "bench:upscaler", options.side_4k // 4, options.steps_4k,
                                      options.guidance, options.sampler, options.seed, *options.tile))
    rows, stock_pictures, same_dtype_pictures = {}, {}, {}
    for case in todo:
        rows[case.name] = {"family": "sd_x4_upscaler", "case": case.name, "width": case.side * 4,
                           "height": case.side * 4, "input_side": case.side, "steps": case.steps,
                           "sampler": options.sampler, "guidance": options.guidance,
                           "tile": [case.tile_size, case.tile_overlap], "stock": None, "studio": None, "agreement": {}}
    run.stock_defaults()
    if options.stock:
        for case in todo:
            big = case.name == "upscale_4k"  # one stock call: it is slow, and its memory is what it shows

            def stock_case(case=case, big=big):
                row, picture = cases.measure_upscale(case, store, device, 1 if big else options.repeats, True, not big)
                stock_pictures[case.name] = picture
                return row
            rows[case.name]["stock"] = cases.run_guarded(stock_case, device)
    model = store.models["bench:upscaler"]
    dtypes = (_dtype_name(run.studio_dtype), _dtype_name(run.stock_dtype))
    if run.studio_dtype != run.stock_dtype:
        models.convert(model, run.studio_dtype)
        if options.stock and todo[0].name == "upscale":
            def stock_picture():
                return {"picture": cases.stock_upscale_call(todo[0], store, todo[0].inputs())()}
            result = cases.run_guarded(stock_picture, device)
            if "picture" in result:
                same_dtype_pictures["upscale"] = result["picture"]
    elif "upscale" in stock_pictures:
        same_dtype_pictures["upscale"] = stock_pictures["upscale"]
    store.dtype = run.studio_dtype
    model.extra["speed"] = run.settings
    for case in todo:
        row = rows[case.name]
        big = case.name == "upscale_4k"

        def studio_case(case=case, row=row, big=big):
            result, picture = cases.measure_upscale(case, store, device, 1 if big else options.repeats, False)
            if big and case.name in stock_pictures:  # tiles blended at every step against the whole latent
                row["agreement"]["tiled_vs_whole"] = _agreement(picture, stock_pictures[case.name], None,
                                                                (dtypes[0], f"{dtypes[1]}, whole latent"))
            if not big and case.name in same_dtype_pictures:  # Studio's VAE decodes in tiles above its size
                row["agreement"]["vae_tiled_vs_whole"] = _agreement(picture, same_dtype_pictures[case.name], None,
                                                                    (dtypes[0], f"{dtypes[0]}, VAE whole"))
            if not big and case.name in stock_pictures and dtypes[0] != dtypes[1]:
                row["agreement"]["vs_stock_dtype"] = _agreement(picture, stock_pictures[case.name], None, dtypes)
            return result

        row["studio"] = cases.run_guarded(studio_case, device)
        row["studio_optimizations"] = {"unet": applied(model.components["unet"]), "vae": applied(model.components["vae"])}
        _speedups(row)
        run.add(row)
    run.free(store)


def bench_decode(run: Run, family: str) -> None:
    """A 4096² VAE decode: stock decodes the whole latent at once; Studio with its VAE settings (tiled above the
    VAE's native size)."""
    from studio.engine import bench_cases as cases
    from studio.engine import bench_models as models
    from studio.engine.speed import applied, optimize_models

    options, device = run.options, run.device
    vae = models.build_vae(family, device, run.stock_dtype, options.tiny)
    latents = cases.bench_latents(vae, options.side_4k, options.seed, device, run.stock_dtype)
    row = {"family": family, "case": "decode_4k", "width": options.side_4k, "height": options.side_4k,
           "stock": None, "studio": None, "agreement": {}}
    pictures = {}
    run.stock_defaults()
    if options.stock:
        def stock_case():
            result, pictures["stock"] = cases.measure_decode(vae, latents, device, 1, warm_up=False)
            return result
        row["stock"] = cases.run_guarded(stock_case, device)
    vae.to(dtype=run.studio_dtype)
    optimize_models([("vae", vae)], device, run.settings)

    def studio_case():
        result, picture = cases.measure_decode(vae, latents, device, 1)
        if "stock" in pictures:
            row["agreement"]["tiled_vs_whole"] = _agreement(picture, pictures["stock"], None, (
                _dtype_name(run.studio_dtype), f"{_dtype_name(run.stock_dtype)}, whole latent"))
        return result

    row["studio"] = cases.run_guarded(studio_case, device)
    row["studio_optimizations"] = {"vae": dict(applied(vae), tiling=bool(vae.use_tiling))}
    _speedups(row)
    run.add(row)
    del vae, latents
    run.free()


# targets, table, JSON --------------------------------------------------------------------------------------------


def _row(report: dict, family: str, case: str) -> dict | None:
    return next((r for r in report["cases"] if r["family"] == family and r["case"] == case), None)


def evaluate_targets(report: dict, device) -> list[dict]:
    """The issue's targets, from this run's figures (met is None where this run did not measure it)."""
    gpu = device.type == "cuda"
    targets = []

    def add(text: str, measured, limit: str, met, note: str = ""):
        targets.append({"target": text, "measured": measured, "limit": limit,
                        "met": met if gpu else None, "note": note if gpu else "needs a CUDA GPU; this run is not one"})

    inpaint = _row(report, "sd15", "inpaint")
    speedup = (inpaint or {}).get("speedup", {})
    ok_shape = inpaint is not None and inpaint["width"] == 512 and inpaint["steps"] == 30
    ratio = round(1 / speedup["per_step"], 3) if speedup.get("per_step") else None
    add("SD 1.5 512² inpaint, 30 steps: Studio time per step ≤ 1/3 of stock's", ratio, "≤ 0.333",
        ratio is not None and ok_shape and ratio <= 1 / 3 if ratio is not None else None,
        "" if ok_shape else "run sd15 inpaint at 512 px and 30 steps")
    pps = speedup.get("pictures_per_s")
    batch = ((inpaint or {}).get("studio") or {}).get("batch", {}).get("pictures")
    add("SD 1.5 512² inpaint, 8 variations: Studio pictures/s ≥ 4× stock one after another", pps, "≥ 4",
        (pps >= 4 and batch == 8) if pps is not None else None, "" if batch == 8 else "run with --batch 8")
    xl = next((r for r in report["cases"] if r["family"] == "sdxl" and r.get("speedup", {}).get("per_step")), None)
    xl_speedup = xl["speedup"]["per_step"] if xl else None
    add("SDXL 1024²: Studio ≥ 1.5× stock", xl_speedup, "≥ 1.5",
        (xl_speedup >= 1.5 and xl["width"] == 1024) if xl else None, f"case {xl['case']}" if xl else "")
    peaks = [(r["case"], r["studio"]["peak_gib"]) for r in report["cases"]
             if r["case"] in ("upscale_4k", "decode_4k") and r.get("width") == 4096
             and (r.get("studio") or {}).get("peak_gib") is not None]
    best = min(peaks, key=lambda p: p[1]) if peaks else None
    add("4096² upscale or decode: Studio peak GPU memory ≤ 4 GiB", best[1] if best else None, f"≤ {MEMORY_TARGET_GIB}",
        best[1] <= MEMORY_TARGET_GIB if best else None, ", ".join(f"{c}: {p} GiB" for c, p in peaks))
    return targets


def _finite(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _fmt(value, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def format_report(report: dict) -> str:
    env = report["environment"]
    lines = [f"studio bench on {env['device_name']} ({env['device']}), torch {env['torch']}, diffusers "
             f"{env['diffusers']}; stock {report['stock_dtype']}, Studio {report['studio_dtype']}",
             f"command: {report['command']}", ""]
    header = ("case", "family", "size", "steps", "stock ms/step", "studio ms/step", "×", "stock pic/s",
              "studio pic/s", "×", "warm-up s stock/studio", "peak GiB stock/studio", "PSNR dB")
    table = [header]
    for row in report["cases"]:
        stock, studio = row.get("stock") or {}, row.get("studio") or {}
        speed = row.get("speedup", {})
        agree = row["agreement"].get("same_dtype") or next(iter(row["agreement"].values()), {})
        table.append((
            row["case"], row["family"], f"{row['width']}", _fmt(row.get("steps")),
            _per_step(stock), _per_step(studio),
            _fmt(speed.get("per_step"), 2, "×"), _fmt((stock.get("batch") or {}).get("pictures_per_s"), 3),
            _fmt((studio.get("batch") or {}).get("pictures_per_s"), 3), _fmt(speed.get("pictures_per_s"), 2, "×"),
            f"{_fmt(stock.get('warmup_s'), 1)}/{_fmt(studio.get('warmup_s'), 1)}",
            f"{_fmt(stock.get('peak_gib'))}/{_fmt(studio.get('peak_gib'))}",
            "identical" if agree.get("psnr_db", 0) is None else _fmt(agree.get("psnr_db"), 1),
        ))
    lines += _columns(table)
    if report["ablation"]:
        lines += ["", "ablation (Studio, one switch changed from the defaults):"]
        rows = [("variant", "case", "dtype", "warm-up s", "ms/step", "vs defaults", "peak GiB")]
        for row in report["ablation"]:
            rows.append((row["variant"], row["case"], row["dtype"], _fmt(row.get("warmup_s"), 1),
                         row.get("error") or _fmt(row.get("ms_per_step")), _fmt(row.get("vs_defaults"), 3),
                         _fmt(row.get("peak_gib"))))
        lines += _columns(rows)
    lines += ["", "targets:"]
    for target in report["targets"]:
        verdict = {True: "MET", False: "NOT MET", None: "not measured"}[target["met"]]
        note = f" ({target['note']})" if target["note"] else ""
        lines.append(f"  [{verdict}] {target['target']}: {_fmt(target['measured'], 3)} (limit {target['limit']}){note}")
    return "\n".join(lines)


def _per_step(part: dict) -> str:
    if part.get("error"):
        return part["error"][:40]
    if part.get("ms_per_step") is None and part.get("total_ms") is not None:
        return f"{part['total_ms']:.1f} total"
    return _fmt(part.get("ms_per_step"))


def _columns(rows: list[tuple]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def main(argv: list[str] | None = None) -> int:
    """`python -m studio.engine.bench …`: the same as `studio bench …`."""
    root = argparse.ArgumentParser(prog="studio")
    add_bench_parser(root.add_subparsers(dest="command"))
    return command_bench(root.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
