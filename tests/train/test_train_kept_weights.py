"""Which weights a round keeps: its last, annealed ones when it ran its schedule to the end,
its best validated ones when it ended early (patience) or the user pressed Stop."""

from __future__ import annotations

import torch

from fixtures.trainers import small_trainer
from napari_superanimal.train.finetune import Control
from napari_superanimal.train.loop import Trainer


def trainer_with(validation_errors: list[float], patience: int):
    """A small round validated every 2 steps, its validation errors given in turn."""
    errors = iter(validation_errors)
    return small_trainer(patience=patience, validate=lambda: next(errors))


def weights_at_each_validation(trainer: Trainer) -> list[dict]:
    copies = []
    evaluate = trainer.evaluate

    def keep_a_copy(step):
        copies.append({k: v.detach().clone() for k, v in trainer.network.state_dict().items()})
        return evaluate(step)

    trainer.evaluate = keep_a_copy
    return copies


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_a_round_that_runs_its_schedule_keeps_its_last_weights():
    network, trainer = trainer_with([3.0, 1.0, 2.0, 2.0], patience=100)
    seen = weights_at_each_validation(trainer)
    assert trainer.fit(steps=8, budget=None, control=Control()) == "steps"
    assert len(seen) == 4 and not same(seen[1], seen[3])
    kept = trainer.kept_state("steps")
    assert same(kept, seen[3])  # the last weights, not the best validated (step 4)
    assert same(trainer.kept_state("time"), seen[3])
    # Stop mid-schedule keeps the best validated weights so far
    assert same(trainer.kept_state("stop"), seen[1])


def test_a_round_that_stops_early_keeps_its_best_validated_weights():
    network, trainer = trainer_with([3.0, 1.0, 2.0, 2.0], patience=2)
    seen = weights_at_each_validation(trainer)
    assert trainer.fit(steps=100, budget=None, control=Control()) == "early"
    assert len(seen) == 4
    kept = trainer.kept_state("early")
    assert same(kept, seen[1]) and not same(kept, network.state_dict())
    for tensor in kept.values():
        assert tensor.is_contiguous()
