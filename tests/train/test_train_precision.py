"""A round on a CPU trains in channels-last order, a new network in bfloat16 where the CPU has
it, and what it keeps (weights, the best epoch's copy) is float32 in the usual memory order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures.trainers import small_trainer
from napari_superanimal.train.finetune import Control
from napari_superanimal.train.loop import MIXED, mixed_precision


@pytest.mark.parametrize("mixed", [True, False])
def test_a_round_keeps_float32_weights_in_the_usual_order_whatever_it_trains_in(mixed):
    network, trainer = small_trainer(mixed)
    seen = []
    first_conv = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda m, i, out: seen.append((out.dtype, i[0])))
    ended = trainer.fit(steps=4, budget=None, control=Control())
    assert ended == "steps"
    training = seen[: len(trainer.history.losses)]  # the steps' forward passes, before validation
    assert {dtype for dtype, _ in training} == {torch.bfloat16 if mixed else torch.float32}
    assert all(x.is_contiguous(memory_format=torch.channels_last) for _, x in training)
    assert all(np.isfinite(loss) for _, loss in trainer.history.losses)
    for state in (network.state_dict(), trainer.kept_state("early")):  # the best epoch's copy
        for name, tensor in state.items():
            assert tensor.is_contiguous(), name  # saved, exported and hashed as before
            if tensor.is_floating_point():
                assert tensor.dtype == torch.float32, name
    assert trainer.precision == (MIXED if mixed else "float32")


def test_bfloat16_only_for_a_new_network_where_the_cpu_computes_it_natively(monkeypatch):
    """Emulated bfloat16 would make a round slower, not faster; only CPUs use it; and a round
    that fine-tunes a trained model makes small corrections, in float32."""
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert not mixed_precision(torch.device("cpu"))
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert mixed_precision(torch.device("cpu"))
    assert not mixed_precision(torch.device("cuda"))
    cpu = torch.device("cpu")
    assert not mixed_precision(cpu, trained=True) and not mixed_precision(cpu, "float32")
