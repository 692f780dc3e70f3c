"""Losses: Bradley-Terry on preferences, the tie loss on neutrals, optional margin and reward centering (TRL).

    per_pair = pair_losses(r_a, r_b, is_tie, margin=None, tie_weight=1.0)   # one value per pair
    loss = per_pair.sum() / n_global_pairs

- preference (a = winner, b = loser): ``-log sigmoid(r_a - r_b - margin)``
- tie: ``tie_weight * -1/2 [log sigmoid(d) + log sigmoid(-d)]`` with ``d = r_a - r_b``; its minimum is at
  d = 0 (value log 2), its gradient is ``tie_weight * (sigmoid(d) - 1/2)``, so it pulls |d| toward 0.
- reward centering (TRL ``center_rewards_coefficient``): ``+ coef * (r_a + r_b)^2`` per pair, which keeps
  rewards centred on zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bt_loss(r_w: torch.Tensor, r_l: torch.Tensor, margin: torch.Tensor | None = None) -> torch.Tensor:
    d = r_w - r_l
    if margin is not None:
        d = d - margin
    return -F.logsigmoid(d)


def tie_loss(r_a: torch.Tensor, r_b: torch.Tensor) -> torch.Tensor:
    d = r_a - r_b
    return -0.5 * (F.logsigmoid(d) + F.logsigmoid(-d))


def pair_losses(r_a: torch.Tensor, r_b: torch.Tensor, is_tie: torch.Tensor, margin: torch.Tensor | None = None,
                tie_weight: float = 1.0, center_coef: float | None = None) -> torch.Tensor:
    """Per-pair loss (float32). ``is_tie`` is a bool tensor; margins apply to preference pairs only."""
    r_a, r_b = r_a.float(), r_b.float()
    pref = bt_loss(r_a, r_b, margin)
    tie = tie_weight * tie_loss(r_a, r_b)
    out = torch.where(is_tie, tie, pref)
    if center_coef:
        out = out + center_coef * (r_a + r_b) ** 2
    return out
