"""`studio`: the window by default, headless sub-commands beside it.

Every failure the user can cause ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import studio
from studio.core.errors import JobCancelled, StudioError
from studio.engine.bench import add_bench_parser, command_bench
from studio.plugins import cli as plugins_cli

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="A desktop image editor for diffusion models.")
    parser.add_argument("--version", action="version", version=f"studio {studio.__version__}")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run a recipe (.json) or reproduce a picture Studio exported (.png)")
    run.add_argument("recipe", type=Path, help="a recipe JSON file, or a PNG exported by Studio")
    run.add_argument("--out", type=Path, required=True, help="folder for the results")
    run.add_argument("--resume", action="store_true", help="finish a batch that was interrupted, in the same folder")
    run.add_argument("--format", choices=("png", "jpeg", "webp"), default="png")
    run.add_argument("--name", default=None, help="naming pattern, e.g. '{prompt}-{seed}' (fields: index, seed, "
                     "task, steps, guidance, strength, sampler, prompt, controlnet_scale, lora_weight, clip_skip)")
    run.add_argument("--allow-pickle", action="store_true", help="load .ckpt/.pt checkpoints (weights only, no code runs)")
    run.add_argument("--quiet", action="store_true", help="print only the paths of the results")
    run.add_argument("--models", type=Path, action="append", default=[], metavar="FOLDER",
                     help="a folder of the LoRAs (<lora:name:weight>) and embeddings (their names) the prompts call "
                     "(repeatable; the recipe's folder and the window's models folders are searched too)")

    models = commands.add_parser("models", help="list the checkpoints in folders, with their detected family")
    models.add_argument("folders", type=Path, nargs="+")

    plugins_cli.add_subcommand(commands)
    add_bench_parser(commands)
    commands.add_parser("doctor", help="what Studio found (Python, torch, GPU, resources, models, plugins) and how to fix what is missing")
    gui = commands.add_parser("gui", help="open the window (the default)")
    gui.add_argument("pictures", nargs="*", type=Path, help="pictures to open")
    return parser


def _recipe_from(path: Path):
    from studio.core.metadata import read_metadata
    from studio.core.recipe import load_recipe

    if path.suffix.lower() == ".png":
        if not path.exists():
            raise StudioError(f"no such picture: {path}")
        meta = read_metadata(path)
        if meta is None:
            raise StudioError(f"{path.name} has no Studio recipe in it (was it exported by Studio?)")
        return meta.recipe, meta.hashes
    return load_recipe(path), {}


def _with_prompt_models(recipe, folders: list[Path], beside: Path):
    """The recipe with the LoRAs and embeddings its prompts call (`<lora:name:weight>` tags, embedding names),
    as the window does. They are looked for in `folders` and the window's models folders (with their
    subfolders), and beside the recipe (that folder only: it may be a home folder). A recipe from a picture
    Studio exported names its files already."""
    from studio.core.checkpoints import inspect, scan_folder
    from studio.core.embedding_words import apply_embedding_words
    from studio.core.lora_tags import apply_lora_tags, files_by_name
    from studio.core.recipe import parse_recipe
    from studio.core.settings import load_settings

    if not recipe.prompt.strip() and not recipe.negative_prompt.strip():
        return recipe  # nothing to call a LoRA or an embedding: no folder needs reading
    folders = [*folders, *map(Path, load_settings().model_folders)]
    found = [info for folder in folders if folder.is_dir() for info in scan_folder(folder)]
    found += [inspect(path) for path in sorted(beside.glob("*.safetensors"))]
    values = recipe.to_dict()
    if not inspect(recipe.model).starter:  # a starter model reads no prompt
        values = apply_embedding_words(values, files_by_name(i.path for i in found if i.kind == "embedding"))
    values = apply_lora_tags(values, files_by_name(info.path for info in found if info.kind == "lora"))
    return parse_recipe(values)


def _check_same_inputs(expected: dict, actual: dict) -> None:
    """Reproducing from a PNG: the inputs on disk must still be the ones the picture was made from."""
    numbered = {"lora": "LoRA", "embedding": "embedding"}  # loraN, embeddingN: the N-th file of its list
    for name in [name for name in expected if name in ("image", "mask", "model") or name.startswith(tuple(numbered))]:
        if actual.get(name) != expected[name]:
            kind = next((kind for kind in numbered if name.startswith(kind)), None)
            what = f"{numbered[kind]} {int(name.removeprefix(kind)) + 1}" if kind else name
            raise StudioError(f"the {what} on disk is not the one this picture was made from (its hash differs)")


def _command_run(args) -> int:
    from studio.core.export import DEFAULT_PATTERN, ExportSettings
    from studio.engine.batch import run_batch
    from studio.engine.model_store import ModelStore

    recipe, expected_hashes = _recipe_from(args.recipe)
    if args.recipe.suffix.lower() != ".png":  # a recipe file; an exported picture's recipe names its files already
        recipe = _with_prompt_models(recipe, args.models, args.recipe.resolve().parent)
    settings = ExportSettings(args.out, args.name or DEFAULT_PATTERN, args.format)

    def report(progress):
        if not args.quiet:
            print(f"job {progress.item + 1}/{progress.items} step {progress.step}/{progress.total}", file=sys.stderr)

    def written(job, path, result):
        _check_same_inputs(expected_hashes, result.metadata.hashes)
        if job.index == 0 or not args.quiet:
            for notice in result.notices:
                print(f"studio: note: {notice}", file=sys.stderr)
        print(path, flush=True)

    run_batch(recipe, ModelStore(allow_pickle=args.allow_pickle), settings, args.resume, report, on_written=written)
    return 0


def _command_models(args) -> int:
    from studio.core.checkpoints import inspect, scan_folder

    for folder in args.folders:
        found = scan_folder(folder) if folder.is_dir() and not (folder / "model_index.json").exists() else [inspect(folder)]
        if not found:
            print(f"{folder}: no checkpoints found")
        for info in found:
            what = info.family or info.kind
            if info.kind == "lora":  # a LoRA is listed by what it is, then the family it was made for
                what = f"lora ({info.family})" if info.family else "lora"
            print(f"{info.path}\t{what}\t{info.layout}" + (f"\t({info.problem})" if info.problem else ""))
    return 0


def _command_gui(args) -> int:
    from studio.ui.app import main as gui_main

    return gui_main(pictures=getattr(args, "pictures", ()))


def _command_doctor(args) -> int:
    from studio.doctor import run_doctor

    return run_doctor(out=sys.stdout)


COMMANDS = {
    "run": _command_run,
    "models": _command_models,
    "doctor": _command_doctor,
    "plugins": plugins_cli.run,
    "bench": command_bench,
    "gui": _command_gui,
    None: _command_gui,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except JobCancelled:
        print("studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except StudioError as error:
        print(f"studio: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("studio: error: out of memory; try a smaller picture or size", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
