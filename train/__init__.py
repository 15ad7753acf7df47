"""The thin TRL trainer: SFT and DPO on curated folders, run as `mixlab train sft|dpo --config RECIPE.yaml`.

Modules: template (Qwen3 ChatML with generation markers), data (the weighted mix), config (recipe YAML → TRL
config), model (load or init the model), sft / dpo (TRL glue, each runnable as `python -m train.sft`), launch
(`accelerate launch` for several GPUs), outputs (metrics, plots, final model), cli (`mixlab train`).
"""
