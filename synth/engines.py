"""Generation engines behind one interface: vLLM's offline engine on GPUs, transformers batched generation elsewhere.

    engine = build_engine("auto", "runs/sft-4b/final", seed=0)    # vllm when installed and a GPU is there, else hf
    samples = engine.generate([[{"role": "user", "content": "2+2?"}]], n=4, temperature=0.7,
                              max_new_tokens=256, seed=1)              # -> [[4 strings]] (one list per prompt)

Both render prompts with the model's own chat template (generation prompt added) and stop on the model's eos and
<|im_end|>. vllm is imported only when its engine is built; `vllm_requests` (the per-prompt sampling parameters it
gets) is plain Python so it is testable anywhere.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Protocol

END_OF_TURN = "<|im_end|>"
ENGINES = ("auto", "vllm", "hf")
CPU_BATCH, GPU_BATCH = 16, 256
PROMPT_BUCKET = 64  # static-cache prompt lengths are padded to a multiple of this (fewer recompiles)


class Engine(Protocol):
    name: str
    tokenizer: object
    chat_template_sha256: str

    def generate(self, prompts: list[list[dict]], n: int, temperature: float, max_new_tokens: int,
                 seed: int) -> list[list[str]]: ...


def render_prompt(tokenizer, messages: list[dict]) -> str:
    """The chat template's text for `messages` followed by the assistant's generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the model's tokenizer has no chat template (synth renders prompts with it)")
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def stop_token_ids(tokenizer, generation_eos=None) -> list[int]:
    """The tokenizer's eos, <|im_end|> when the vocabulary has it, and the model's generation_config eos ids."""
    ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END_OF_TURN)
           if END_OF_TURN in tokenizer.get_vocab() else None]
    ids += generation_eos if isinstance(generation_eos, list) else [generation_eos]
    return list(dict.fromkeys(i for i in ids if isinstance(i, int)))


def generation_eos(model: str):
    """The eos id(s) of the model folder's generation_config.json (None without one)."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model, local_files_only=True).eos_token_id
    except OSError:
        return None


def chat_template_sha256(tokenizer) -> str:
    return hashlib.sha256((getattr(tokenizer, "chat_template", None) or "").encode()).hexdigest()[:16]


def derive_seed(seed: int, index: int) -> int:
    """A 32-bit seed for item `index` of a run seeded `seed` (a prompt for vLLM, a chunk for the runner)."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def vllm_requests(tokenizer, prompts: list[list[dict]], n: int, temperature: float, max_new_tokens: int,
                  seed: int, stop_ids: list[int]) -> tuple[list[str], list[dict]]:
    """Rendered prompt texts and one SamplingParams kwargs dict per prompt."""
    texts = [render_prompt(tokenizer, messages) for messages in prompts]
    params = [{"n": n, "temperature": temperature, "top_p": 1.0, "top_k": -1, "max_tokens": max_new_tokens,
               "seed": derive_seed(seed, i), "stop_token_ids": stop_ids, "skip_special_tokens": True}
              for i in range(len(prompts))]
    return texts, params


def vllm_usable() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def resolve_engine(name: str) -> str:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r} (one of: {', '.join(ENGINES)})")
    if name == "auto":
        return "vllm" if vllm_usable() else "hf"
    return name


def build_engine(name: str, model: str, seed: int = 0, batch_size: int | None = None) -> Engine:
    """The engine `name` (auto | vllm | hf) over the local model folder `model`."""
    if not Path(model).is_dir():
        raise FileNotFoundError(f"model not found: {model} (a local model folder with config, weights and tokenizer)")
    if resolve_engine(name) == "vllm":
        return VLLMEngine(model, seed)
    return HFEngine(model, batch_size=batch_size)


class VLLMEngine:
    """vLLM's offline `LLM`, tensor parallel over every visible GPU."""

    name = "vllm"

    def __init__(self, model: str, seed: int = 0):
        import torch
        from vllm import LLM

        self.llm = LLM(model=model, seed=seed, tensor_parallel_size=max(torch.cuda.device_count(), 1),
                       generation_config="auto")
        self.tokenizer = self.llm.get_tokenizer()
        self.chat_template_sha256 = chat_template_sha256(self.tokenizer)
        self.stop_ids = stop_token_ids(self.tokenizer, generation_eos(model))

    def generate(self, prompts, n, temperature, max_new_tokens, seed):
        from vllm import SamplingParams

        texts, params = vllm_requests(self.tokenizer, prompts, n, temperature, max_new_tokens, seed, self.stop_ids)
        outputs = self.llm.generate(texts, [SamplingParams(**p) for p in params], use_tqdm=False)
        return [[choice.text for choice in out.outputs] for out in outputs]


def gumbel_sampler(temperature: float):
    """A logits processor after which greedy decoding samples from softmax(logits / temperature).

    The Gumbel-max trick: argmax(logits / T + Gumbel noise) is an exact sample, drawn without torch.multinomial,
    which was most of a CPU decode step over Qwen3's 152k vocabulary."""
    import torch
    from transformers import LogitsProcessor

    class GumbelSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            # argmax(logits / T - log E), E ~ Exp(1): the same draw as Gumbel noise, one log fewer
            noise = torch.empty_like(scores, dtype=torch.float32).exponential_()
            return scores.float() / temperature - noise.log_()

    return GumbelSampler()


class HFEngine:
    """transformers `generate` over length-sorted, left-padded batches.

    On GPU (or with static_cache=True): bf16 weights, every batch padded to batch_size rows and a multiple of
    PROMPT_BUCKET prompt tokens, and one StaticCache reused (grown when a longer one is needed), so transformers'
    compiled decode step (torch.compile, CUDA graphs) is built once and replayed for every batch."""

    name = "hf"

    def __init__(self, model: str, batch_size: int | None = None, device: str | None = None,
                 static_cache: bool | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        on_gpu = self.device.type == "cuda"
        self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
        self.tokenizer.padding_side = "left"
        self.chat_template_sha256 = chat_template_sha256(self.tokenizer)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            model, local_files_only=True, dtype=torch.bfloat16 if on_gpu else torch.float32).to(self.device).eval()
        self.stop_ids = stop_token_ids(self.tokenizer, self.model.generation_config.eos_token_id)
        self.batch_size = batch_size or (GPU_BATCH if on_gpu else CPU_BATCH)
        self.static_cache = on_gpu if static_cache is None else static_cache
        self.cache = None
        # transformers 5.2x renamed generate's `past_key_values` to `cache`; older 5.x know only the first
        self.cache_argument = "cache" if "cache" in inspect.signature(self.model.forward).parameters \
            else "past_key_values"
        self.generated_tokens = 0  # up to and including each sequence's stop token

    def generate(self, prompts, n, temperature, max_new_tokens, seed):
        ids = [self.tokenizer(render_prompt(self.tokenizer, m), add_special_tokens=False)["input_ids"]
               for m in prompts]
        requests = [(i, j) for i in range(len(prompts)) for j in range(n)]
        requests.sort(key=lambda r: -len(ids[r[0]]))  # similar lengths share a batch: less padding
        results = [[""] * n for _ in prompts]
        for b, start in enumerate(range(0, len(requests), self.batch_size)):
            batch = requests[start:start + self.batch_size]
            texts = self._generate_batch([ids[i] for i, _ in batch], temperature, max_new_tokens, seed + b)
            for (i, j), text in zip(batch, texts):
                results[i][j] = text
        return results

    def _static_cache(self, length: int):
        """The reused StaticCache, emptied; replaced by a longer one when `length` does not fit."""
        from transformers import StaticCache

        if self.cache is None or self.cache_length < length:
            self.cache, self.cache_length = StaticCache(config=self.model.config, max_cache_len=length), length
        else:
            self.cache.reset()
        return self.cache

    def _generate_batch(self, batch_ids: list[list[int]], temperature: float, max_new_tokens: int,
                        seed: int) -> list[str]:
        import torch

        rows, width = len(batch_ids), max(len(x) for x in batch_ids)
        if self.static_cache:  # fixed shapes: the compiled decode step is reused across batches
            batch_ids = batch_ids + [batch_ids[-1]] * (self.batch_size - rows)
            width = -(-width // PROMPT_BUCKET) * PROMPT_BUCKET
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in batch_ids], device=self.device)
        attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in batch_ids], device=self.device)
        torch.manual_seed(seed)
        processors = [gumbel_sampler(temperature)] if temperature > 0 else []
        with torch.inference_mode():
            cache = {self.cache_argument: self._static_cache(width + max_new_tokens)} if self.static_cache else {}
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                                      eos_token_id=self.stop_ids, pad_token_id=pad, do_sample=False,
                                      temperature=None, top_p=None, top_k=None, logits_processor=processors, **cache)
        generated = out[:rows, width:]
        self.generated_tokens += int(generated_lengths(generated, self.stop_ids).sum())
        return self.tokenizer.batch_decode(generated, skip_special_tokens=True)


def generated_lengths(generated, stop_ids: list[int]):
    """Tokens each row generated: up to and including its first stop token (the rest is padding)."""
    import torch

    stops = torch.isin(generated, torch.tensor(stop_ids, device=generated.device))
    first_stop = torch.where(stops.any(dim=1), stops.int().argmax(dim=1) + 1, generated.shape[1])
    return first_stop
