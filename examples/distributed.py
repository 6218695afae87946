"""Train an entry on several replicas with `tf.distribute`: MirroredStrategy on this machine here,
MultiWorkerMirroredStrategy across machines with the same command on each.

    python examples/distributed.py     # two replicas: every GPU, or two logical CPU devices

Across machines (or two shells on one), each worker runs the same command with its own index;
worker 0 writes the run folder and the export:

    export TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                       "task": {"type": "worker", "index": 0}}'      # index 1 on host2
    modelzoo train mlp_digits --strategy multi_worker --run-dir runs/digits-2w --export-dir saved_models
"""

import tensorflow as tf

# MirroredStrategy replicates over every GPU. Without one, split the CPU into two logical devices
# so there are two replicas to show (this must happen before TensorFlow initialises its devices).
if not tf.config.list_physical_devices("GPU"):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import modelzoo  # noqa: E402
from modelzoo.distribute import make_strategy  # noqa: E402

# 1. The strategy, by name (or any tf.distribute.Strategy object).
strategy = make_strategy("mirrored")

# 2. Build in its scope: variables are mirrored on every replica, the optimizer too.
model = modelzoo.build("mlp_digits", strategy=strategy)
recipe, replicas = model.modelzoo.recipe, strategy.num_replicas_in_sync
global_batch = recipe.global_batch_size(replicas)
print(f"{replicas} replicas; batch {recipe.batch_size} per replica, {global_batch} per step")

# 3. Fit as usual: each global batch is split across the replicas and gradients are all-reduced.
#    `scale_learning_rate=True` in the recipe would multiply the learning rate by the replica count.
modelzoo.fit(model, verbose=2)
print("test:", modelzoo.evaluate(model))
