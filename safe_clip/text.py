"""CLIP's text side for every trainer: the shared text classifier (one normalised text embedding per class), and
the text encoder run on token embeddings, for trainers that learn prompt vectors (CoOp)."""
from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import nn

from safe_clip.templates import prompt_classname

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # clip-anytorch imports pkg_resources, which warns on recent setuptools
    import clip

# Prompts are encoded in chunks so ImageNet's 1000 classes x 7 templates fit in memory.
_PROMPT_CHUNK = 256


@torch.no_grad()
def encode_prompts(clip_model: nn.Module, prompts: Sequence[str]) -> torch.Tensor:
    """L2-normalised fp32 text embeddings of `prompts`, [len(prompts), D]."""
    device = clip_model.token_embedding.weight.device
    chunks = []
    for start in range(0, len(prompts), _PROMPT_CHUNK):
        tokens = clip.tokenize(list(prompts[start : start + _PROMPT_CHUNK])).to(device)
        chunks.append(clip_model.encode_text(tokens).float())
    embeddings = torch.cat(chunks)
    return embeddings / embeddings.norm(dim=-1, keepdim=True)


@torch.no_grad()
def build_text_classifier(
    clip_model: nn.Module, classnames: Sequence[str], templates: Sequence[str]
) -> torch.Tensor:
    """[num_classes, D] fp32 classifier: per class, the normalised embedding of its prompt, or with several
    templates the renormalised mean of the normalised embeddings (CLIP's prompt ensembling)."""
    names = [prompt_classname(name) for name in classnames]
    per_template = [encode_prompts(clip_model, [template.format(name) for name in names]) for template in templates]
    if len(per_template) == 1:
        return per_template[0]
    mean = torch.stack(per_template).mean(dim=0)
    return mean / mean.norm(dim=-1, keepdim=True)


def tokenize(texts: Sequence[str]) -> torch.Tensor:
    """CLIP's token ids [len(texts), 77]."""
    return clip.tokenize(list(texts))


def encode_token_embeddings(clip_model: nn.Module, embeddings: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """CLIP's `encode_text` from token embeddings [N, L, width] instead of token ids: learned prompt vectors go
    through the same frozen transformer. `tokens` [N, L] locate each sequence's end token (the highest id); for
    `embeddings = clip_model.token_embedding(tokens)` this is `clip_model.encode_text(tokens)` exactly."""
    dtype = clip_model.dtype
    hidden = embeddings.type(dtype) + clip_model.positional_embedding.type(dtype)
    hidden = clip_model.transformer(hidden.permute(1, 0, 2)).permute(1, 0, 2)  # the transformer is sequence-first
    hidden = clip_model.ln_final(hidden).type(dtype)
    end_of_text = hidden[torch.arange(hidden.shape[0], device=hidden.device), tokens.argmax(dim=-1)]
    return end_of_text @ clip_model.text_projection
