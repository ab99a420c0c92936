"""Cross-entropy computed only where there is something to learn.

A causal LM's head maps every position to the whole vocabulary (262k entries for Gemma 3), which is most of
a small model's FLOPs; but the loss only reads the positions whose next token is a trained agent token.
Gathering those hidden states first and running the head over them in chunks gives the same loss for a
fraction of the compute. Each chunk's gradient is computed right away, in the forward pass, and its logits
are dropped: memory stays at one chunk of logits and the head's matmul is never recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100
CHUNK = 256  # targets per chunk: 256 x 262k float32 logits = 256 MiB


@dataclass
class TargetLoss:
    """Summed loss over target tokens, their count and how many the model's argmax got right."""

    loss_sum: torch.Tensor
    n_targets: int
    n_correct: int


def target_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of positions that predict a trained token (labels shifted by one), and those tokens."""
    shifted = torch.full_like(labels, IGNORE)
    shifted[:, :-1] = labels[:, 1:]
    flat = shifted.reshape(-1)
    index = (flat != IGNORE).nonzero(as_tuple=True)[0]
    return index, flat[index]


def target_only_loss(
    hidden: torch.Tensor,
    labels: torch.Tensor,
    head: torch.nn.Linear,
    softcap: float | None = None,
    chunk_size: int = CHUNK,
) -> TargetLoss:
    """The causal-LM loss of ``hidden`` (B, T, H, after the final norm) against ``labels`` (B, T), summed."""
    index, targets = target_positions(labels)
    picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)
    loss_sum, correct = _HeadCrossEntropy.apply(picked, head.weight, head.bias, targets, softcap, chunk_size)
    return TargetLoss(loss_sum=loss_sum, n_targets=len(targets), n_correct=int(correct))


class _HeadCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of ``softcap(hidden @ weight.T + bias)``, with gradients made in the forward pass."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, softcap, chunk_size):
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
        w = weight.to(dtype)
        grads = _Grads(hidden, weight, bias)
        loss_sum = torch.zeros((), dtype=torch.float32, device=hidden.device)
        correct = torch.zeros((), dtype=torch.long, device=hidden.device)
        for start in range(0, len(targets), chunk_size):
            h, t = hidden[start : start + chunk_size], targets[start : start + chunk_size]
            logits = torch.nn.functional.linear(h.to(dtype), w, None if bias is None else bias.to(dtype)).float()
            chunk_loss, d_logits, n_correct = _loss_and_grad(logits, t, softcap)
            loss_sum += chunk_loss
            correct += n_correct
            grads.add(start, h.to(dtype), d_logits.to(dtype), w)
        ctx.save_for_backward(*grads.tensors())
        ctx.has_bias = bias is not None
        ctx.mark_non_differentiable(correct)
        return loss_sum, correct

    @staticmethod
    def backward(ctx, grad_loss, _grad_correct):
        d_hidden, d_weight, d_bias = ctx.saved_tensors if ctx.has_bias else (*ctx.saved_tensors, None)
        scale = lambda g: None if g is None or g.numel() == 0 else g * grad_loss.to(g.dtype)  # noqa: E731
        return scale(d_hidden), scale(d_weight), scale(d_bias), None, None, None


def _loss_and_grad(logits: torch.Tensor, targets: torch.Tensor, softcap: float | None):
    """Loss sum, d(loss)/d(logits) and correct argmax count of one chunk (float32 throughout)."""
    capped = torch.tanh(logits / softcap) * softcap if softcap is not None else logits
    log_probs = torch.log_softmax(capped, dim=-1)
    rows = torch.arange(len(targets), device=logits.device)
    loss = -log_probs[rows, targets].sum()
    n_correct = (capped.argmax(-1) == targets).sum()
    d = log_probs.exp_()
    d[rows, targets] -= 1
    if softcap is not None:
        d *= 1 - (capped / softcap) ** 2  # d tanh(x / c) * c / dx = 1 - tanh^2
    return loss, d, n_correct


class _Grads:
    """Gradients of the hidden states (always) and of the head's weight and bias (when they are trained)."""

    def __init__(self, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.hidden = torch.empty_like(hidden)
        self.weight = torch.zeros_like(weight) if weight.requires_grad else weight.new_empty(0)
        self.bias = None if bias is None else torch.zeros_like(bias) if bias.requires_grad else bias.new_empty(0)

    def add(self, start: int, h: torch.Tensor, d_logits: torch.Tensor, w: torch.Tensor) -> None:
        self.hidden[start : start + len(h)] = (d_logits @ w).to(self.hidden.dtype)
        if self.weight.numel():
            self.weight += (d_logits.t() @ h).to(self.weight.dtype)
        if self.bias is not None and self.bias.numel():
            self.bias += d_logits.sum(0).to(self.bias.dtype)

    def tensors(self) -> list[torch.Tensor]:
        return [self.hidden, self.weight] + ([] if self.bias is None else [self.bias])
