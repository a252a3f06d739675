"""A REINFORCE controller over the joint space (Lu et al., "On Neural Architecture Search for
Resource-Constrained Hardware Platforms", 2019; Zoph & Le's controller), with MONAS's
multi-objective reward as an option (Hsu et al., "MONAS: Multi-Objective Neural Architecture
Search", 2018).

An LSTM takes one decision per slot, in the study's slot order: architecture, bits and folding,
each from its own softmax head, the previous decision fed back as the next input. After every
completed trial the controller takes a REINFORCE step on ``(reward - baseline) * log p(decisions)``
(baseline: an exponential moving average of the rewards):

* ``rl`` (Lu et al.): the reward is the accuracy of a child that meets every budget; a child
  that breaks one is rewarded without being trained, with minus its total violation (the loop
  never scores an infeasible child, so it costs no accuracy evaluation);
* ``rl-monas``: for feasible children, ``accuracy - 0.2 * LUT / max LUT seen`` (MONAS's
  weighted accuracy-cost reward; LUT is the study's second objective), infeasible as above.

The controller lives in memory; a fresh sampler (a resumed or second worker) first replays every
completed trial of the study in order, so it continues from the same state.  Torch is imported
when the sampler first draws.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from codesign.search.strategies.base import (CategoricalRelativeSampler, SearchStrategy,
                                             register_strategy)
from codesign.search.strategies.mdl import _reward


class RLSampler(CategoricalRelativeSampler):
    """REINFORCE over categorical slots with an LSTM controller (relative sampling)."""

    def __init__(self, seed: int, warmup: int, monas: bool = False, hidden: int = 32,
                 lr: float = 0.02) -> None:
        self._seed = seed
        self._warmup = warmup
        self._monas = monas
        self._hidden, self._lr = hidden, lr
        super().__init__(seed)
        self._names: list[str] | None = None
        self._net: Any = None
        self._seen = 0
        self._baseline: float | None = None

    # --- the controller
    def _build(self, space: dict[str, CategoricalDistribution]) -> None:
        import torch

        torch.manual_seed(self._seed)
        self._names = sorted(space)
        self._sizes = [len(space[n].choices) for n in self._names]
        self._choices = [list(space[n].choices) for n in self._names]
        h = self._hidden
        net = torch.nn.ModuleDict({
            "cell": torch.nn.LSTMCell(h, h),
            "embed": torch.nn.Embedding(sum(self._sizes) + 1, h),
            "heads": torch.nn.ModuleList(torch.nn.Linear(h, k) for k in self._sizes)})
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)[:-1]]) + 1
        self._net, self._opt = net, torch.optim.Adam(net.parameters(), lr=self._lr)
        self._gen = torch.Generator().manual_seed(self._seed)

    def _run(self, forced: list[int] | None = None) -> tuple[list[int], Any]:
        """Decide every slot (or score the ``forced`` decisions); returns them and log p."""
        import torch

        h = torch.zeros(1, self._hidden)
        c = torch.zeros(1, self._hidden)
        x = self._net["embed"](torch.zeros(1, dtype=torch.long))
        picks, logp = [], torch.zeros(())
        for i, head in enumerate(self._net["heads"]):
            h, c = self._net["cell"](x, (h, c))
            dist = torch.distributions.Categorical(logits=head(h)[0])
            a = (int(torch.multinomial(dist.probs, 1, generator=self._gen))
                 if forced is None else forced[i])
            logp = logp + dist.log_prob(torch.tensor(a))
            picks.append(a)
            x = self._net["embed"](torch.tensor([int(self._offsets[i]) + a]))
        return picks, logp

    def _reward(self, t: FrozenTrial, lut_max: float) -> float:
        r = _reward(t)
        if self._monas and r >= 0 and t.values and len(t.values) > 1 and lut_max > 0:
            r -= 0.2 * float(t.values[1]) / lut_max
        return r

    def _learn(self, study: optuna.Study) -> None:
        """One REINFORCE step per completed trial not seen yet, in trial order."""
        done = sorted((t for t in study.get_trials(deepcopy=False,
                                                   states=(TrialState.COMPLETE,))
                       if all(n in t.params for n in self._names)), key=lambda t: t.number)
        lut_max = max((float(t.values[1]) for t in done if t.values and len(t.values) > 1),
                      default=0.0)
        for t in done[self._seen:]:
            decisions = [self._choices[i].index(t.params[n]) for i, n in enumerate(self._names)]
            r = self._reward(t, lut_max)
            b = r if self._baseline is None else self._baseline
            _, logp = self._run(decisions)
            loss = -(r - b) * logp
            self._opt.zero_grad()
            loss.backward()
            self._opt.step()
            self._baseline = 0.9 * b + 0.1 * r
        self._seen = len(done)

    # --- Optuna's sampler interface
    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not search_space or len(done) < self._warmup:
            return {}
        if self._net is None or sorted(search_space) != self._names:
            self._build(search_space)  # type: ignore[arg-type]
            self._seen, self._baseline = 0, None
        self._learn(study)
        import torch

        with torch.no_grad():
            picks, _ = self._run()
        return {n: self._choices[i][a] for i, (n, a) in enumerate(zip(self._names, picks))}


@register_strategy("rl")
class ReinforceController(SearchStrategy):
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        return RLSampler(seed=seed, warmup=population)


@register_strategy("rl-monas")
class MonasController(SearchStrategy):
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        return RLSampler(seed=seed, warmup=population, monas=True)
