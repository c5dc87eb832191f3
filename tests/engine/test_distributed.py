import torch

from pcnn_fer.engine.distributed import DistContext, ShardedSampler


def _batches(sampler, batch):
    order = list(sampler)
    return [order[i:i + batch] for i in range(0, len(order), batch)]


def test_strided_shards_rebuild_the_single_process_global_batches():
    single = ShardedSampler(24, DistContext(), seed=5)
    single.set_epoch(3)
    ranks = [ShardedSampler(24, DistContext(rank=r, world_size=2), seed=5) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(3)
    for step, global_batch in enumerate(_batches(single, 8)):
        together = _batches(ranks[0], 4)[step] + _batches(ranks[1], 4)[step]
        assert sorted(together) == sorted(global_batch)


def test_order_depends_on_seed_and_epoch_only_and_skip_resumes_it():
    sampler = ShardedSampler(10, DistContext(), seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, skip=4)
    assert list(sampler) == full[4:] and len(sampler) == 6
    sampler.set_epoch(3)
    assert list(sampler) != full and sorted(sampler) == list(range(10))


def test_evaluation_shards_cover_every_sample_once_and_training_pads():
    eval_shards = [list(ShardedSampler(7, DistContext(rank=r, world_size=2), shuffle=False, pad=False))
                   for r in range(2)]
    assert sorted(eval_shards[0] + eval_shards[1]) == list(range(7))
    train_shards = [list(ShardedSampler(7, DistContext(rank=r, world_size=2))) for r in range(2)]
    assert len(train_shards[0]) == len(train_shards[1]) == 4


def test_weighted_draws_favour_the_heavy_class():
    weights = torch.tensor([1.0] * 5 + [9.0] * 5)
    sampler = ShardedSampler(10, DistContext(), weights=weights)
    drawn = []
    for epoch in range(20):
        sampler.set_epoch(epoch)
        drawn += list(sampler)
    assert sum(i >= 5 for i in drawn) > 0.8 * len(drawn)
