"""`tf.distribute` strategies by name, and what a run needs to know about the one it runs under.

The model is built and compiled inside `strategy.scope()` (see `zoo.build`); the recipe's batch
size is per replica, so the global batch is `batch_size * num_replicas_in_sync`. Learning rates are
not scaled unless asked (`scale_learning_rate`: the linear rule, Goyal et al. 2017, lr x replicas).

`multi_worker` reads the cluster from `TF_CONFIG` (set on every worker, same command everywhere):
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'
Worker 0 (or the `chief`) writes the run folder and the export; the others write only their own
backup, under `<run_dir>/workers/<index>/`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from modelzoo.errors import InvalidValueError, unknown_name

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy called `name` (one of STRATEGIES). `mirrored` replicates over
    every GPU, or over the logical CPU devices where there is none (one, unless configured)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise InvalidValueError(
                "strategy 'multi_worker' needs TF_CONFIG on every worker, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise unknown_name("strategy", name, STRATEGIES)


def resolve(strategy: tf.distribute.Strategy | str | None) -> tf.distribute.Strategy:
    """A strategy object from a name, an object, or None (the default strategy)."""
    if strategy is None:
        return tf.distribute.get_strategy()
    return make_strategy(strategy) if isinstance(strategy, str) else strategy


def spans_workers(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` trains across worker processes, so its collectives need every worker."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is not None and bool(resolver.task_type)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the shared outputs: always outside multi-worker training;
    the `chief` task, else worker 0, within it."""
    if not spans_workers(strategy):
        return True
    resolver = strategy.cluster_resolver
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (
        not has_chief and resolver.task_type == "worker" and resolver.task_id == 0
    )


def worker_dir(run_dir: Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this process writes: the run folder for the chief, a folder of its own for a worker."""
    if is_chief(strategy):
        return run_dir
    return run_dir / "workers" / str(strategy.cluster_resolver.task_id)


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Shard by element across workers: our datasets are in memory, with no files to shard by."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def prepare_for_multi_worker(model: keras.Model, sample_batch: Callable[[], Any]) -> None:
    """Let `model.fit`/`evaluate` run under MultiWorkerMirroredStrategy, which Keras 3.15 breaks
    (keras-team/keras#20585, tensorflow/tensorflow#72388) in two places, mended here and nowhere
    else: the first batch is all-reduced eagerly only to build the model symbolically (it fails on
    collective values: build on a local batch instead), and scalar logs are mean-reduced along
    axis 0 (reduce them whole). A no-op under any other strategy, where `sample_batch` (which
    draws one local batch) is not called: drawing it would advance the seeded shuffle."""
    from keras.src.backend.tensorflow import trainer

    strategy = model.distribute_strategy
    if not trainer._collective_all_reduce_multi_worker(strategy):
        return
    if not getattr(trainer.reduce_per_replica, "mends_scalar_means", False):
        keras_reduce = trainer.reduce_per_replica

        def reduce_per_replica(values: Any, strategy: tf.distribute.Strategy, reduction: str) -> Any:
            if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
                return tf.nest.map_structure(
                    lambda v: strategy.reduce("MEAN", v, axis=0 if v.shape.rank else None), values
                )
            return keras_reduce(values, strategy, reduction)

        reduce_per_replica.mends_scalar_means = True
        trainer.reduce_per_replica = reduce_per_replica
    with strategy.scope():
        model._symbolic_build(data_batch=sample_batch())
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
