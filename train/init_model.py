"""Materialise a random-init base model from a config.json as a model folder: the demo's stand-in for a base model.

    python -m train.init_model --config configs/tiny/model/config.json --output runs/demo-pipeline/base [--seed 0]

The folder is what a real base checkpoint looks like (weights, config, tokenizer, generation_config.json stopping
on the base eos `<|endoftext|>`, no chat template), so `mixlab eval` treats it as a base model (chat template off)
and SFT can start from it. The weights are those a training recipe gets from the same config.json and seed, so an
SFT from this folder starts where an SFT from the config would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.model import load_model
from train.template import PACKAGED_TOKENIZER, load_tokenizer


def init_model(config: str, output: str | Path, tokenizer: str = PACKAGED_TOKENIZER, seed: int = 0) -> Path:
    if not (Path(config).is_file() and config.endswith(".json")):
        raise FileNotFoundError(f"--config {config}: not a model config.json")
    tok = load_tokenizer(tokenizer)
    model = load_model(config, tok, {"dtype": "float32"}, seed=seed)
    model.config.get_text_config().eos_token_id = tok.eos_token_id  # a base stops on <|endoftext|> only, like
    model.generation_config.eos_token_id = tok.eos_token_id        # Qwen3-4B-Base's generation_config.json
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)  # with generation_config.json
    tok.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.init_model", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a model config.json (e.g. configs/tiny/model/config.json)")
    parser.add_argument("--output", required=True, help="the model folder to write")
    parser.add_argument("--tokenizer", default=PACKAGED_TOKENIZER,
                        help=f"tokenizer folder or tokenizer.json (default {PACKAGED_TOKENIZER!r}: the packaged Qwen3)")
    parser.add_argument("--seed", type=int, default=0, help="the random init's seed (a recipe's `seed`)")
    args = parser.parse_args(argv)
    try:
        out = init_model(args.config, args.output, args.tokenizer, args.seed)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"base model (random init, seed {args.seed}) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
