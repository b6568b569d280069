"""CoOp's learned prompts (Zhou et al., IJCV 2022): context vectors that replace the hand-written template.

Each class's prompt is the token sequence "[SOS] V1 ... Vn classname . [EOS]" in which V1..Vn are learned
embedding vectors (shared by all classes, or one set per class), and the class name may instead stand first
("front") or between the two halves of the context ("middle"). The frozen CLIP text encoder turns the prompts
into the classifier; only the context vectors train.

The module keeps CoOp's parameter and buffer names (`ctx`, `token_prefix`, `token_suffix`), so checkpoints are
interchangeable with CoOp's `prompt_learner`. As in CoOp's `load_model`, the prefix and suffix embeddings of a
loaded checkpoint are ignored: they always come from the current class names, so learned contexts transfer to
other class sets.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from safe_clip.errors import UserError
from safe_clip.features import l2_normalize
from safe_clip.templates import prompt_classname
from safe_clip.text import encode_token_embeddings, tokenize

CLASS_TOKEN_POSITIONS = ("end", "middle", "front")
# Placeholder word for the context in the tokenised prompt; its embeddings are replaced by the learned vectors.
_PLACEHOLDER = "X"
_CONTEXT_INIT_STD = 0.02
# Buffers derived from the class names: a checkpoint's copies are not loaded (see the module docstring).
_CLASS_NAME_BUFFERS = ("token_prefix", "token_suffix")


def token_count(text: str) -> int:
    """Number of BPE tokens of `text` (without the start and end tokens)."""
    return int((tokenize([text])[0] != 0).sum().item()) - 2


def prompt_positions(n_ctx: int, name_length: int, length: int, class_token_position: str) -> list[int]:
    """For one class, the position in the "end" layout ([SOS], context, name, rest) of each token of the
    requested layout: "end" keeps it, "front" puts the name before the context, "middle" between its halves."""
    context = list(range(1, 1 + n_ctx))
    name = list(range(1 + n_ctx, min(1 + n_ctx + name_length, length)))
    rest = list(range(1 + n_ctx + len(name), length))
    if class_token_position == "end":
        body = context + name
    elif class_token_position == "front":
        body = name + context
    elif class_token_position == "middle":
        half = n_ctx // 2
        body = context[:half] + name + context[half:]
    else:
        raise UserError(
            f"class token position {class_token_position!r} is not known; use one of {', '.join(CLASS_TOKEN_POSITIONS)}"
        )
    return [0] + body + rest


class PromptLearner(nn.Module):
    """CoOp's prompt learner. `forward()` returns the prompt embeddings [num_classes, 77, width].

    Args:
        classnames: class names in label order (underscores become spaces, as in CoOp).
        clip_model: the CLIP model whose token embedding, width and dtype the prompts use.
        n_ctx: number of context vectors (ignored when `ctx_init` is given: its token count is used).
        class_specific: one context per class (CoOp's CSC) instead of one shared context.
        ctx_init: words whose token embeddings initialise the context ("a photo of a"); "" = random, N(0, 0.02).
        class_token_position: "end", "middle" or "front".
    """

    def __init__(
        self,
        classnames: Sequence[str],
        clip_model: nn.Module,
        n_ctx: int = 16,
        class_specific: bool = False,
        ctx_init: str = "",
        class_token_position: str = "end",
    ):
        super().__init__()
        token_embedding = clip_model.token_embedding
        dtype = clip_model.dtype
        width = token_embedding.weight.shape[1]
        names = [prompt_classname(name) for name in classnames]
        ctx_init = ctx_init.replace("_", " ").strip()
        if ctx_init:
            n_ctx = token_count(ctx_init)
        if n_ctx < 1:
            raise UserError(f"the prompt needs at least one context vector, got {n_ctx}; use 1 or more")
        device = token_embedding.weight.device
        with torch.no_grad():
            if ctx_init:
                initial = token_embedding(tokenize([ctx_init]).to(device))[0, 1 : 1 + n_ctx].type(dtype)
                context = initial.expand(len(names), -1, -1).clone() if class_specific else initial.clone()
                prefix_words = ctx_init
            else:
                shape = (len(names), n_ctx, width) if class_specific else (n_ctx, width)
                context = torch.empty(shape, dtype=dtype, device=device)
                nn.init.normal_(context, std=_CONTEXT_INIT_STD)
                prefix_words = " ".join([_PLACEHOLDER] * n_ctx)
        self.ctx = nn.Parameter(context)

        prompts = [f"{prefix_words} {name}." for name in names]
        try:
            tokens = tokenize(prompts).to(device)
        except RuntimeError as error:
            raise UserError(
                f"a prompt of {n_ctx} context tokens and a class name is longer than CLIP's context ({error}); "
                f"use fewer context tokens"
            ) from error
        with torch.no_grad():
            embeddings = token_embedding(tokens).type(dtype)
        self.register_buffer("token_prefix", embeddings[:, :1].clone())  # [SOS]
        self.register_buffer("token_suffix", embeddings[:, 1 + n_ctx :].clone())  # name, ".", [EOS], padding
        self.register_buffer("tokenized_prompts", tokens, persistent=False)

        self.n_ctx = n_ctx
        self.class_token_position = class_token_position
        self.initial_prompt = prefix_words
        length = tokens.shape[1]
        layout = [prompt_positions(n_ctx, token_count(name), length, class_token_position) for name in names]
        self.register_buffer("layout", torch.tensor(layout, dtype=torch.long, device=device), persistent=False)

    @property
    def num_classes(self) -> int:
        return self.token_prefix.shape[0]

    def forward(self) -> torch.Tensor:
        context = self.ctx
        if context.dim() == 2:
            context = context.unsqueeze(0).expand(self.num_classes, -1, -1)
        prompts = torch.cat([self.token_prefix, context, self.token_suffix], dim=1)
        if self.class_token_position == "end":
            return prompts
        return prompts.gather(1, self.layout.unsqueeze(-1).expand(-1, -1, prompts.shape[-1]))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Keep the class-name embeddings of the current classes (CoOp's load_model deletes them from the state
        # dict); everything else (the context) loads as usual.
        for name in _CLASS_NAME_BUFFERS:
            state_dict[prefix + name] = getattr(self, name)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def prompted_text_features(clip_model: nn.Module, prompt_learner: PromptLearner) -> torch.Tensor:
    """[num_classes, D] normalised fp32 text features of the learned prompts (differentiable in the context)."""
    features = encode_token_embeddings(clip_model, prompt_learner(), prompt_learner.tokenized_prompts)
    return l2_normalize(features.float())
