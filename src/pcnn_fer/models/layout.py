"""The file names of a model directory and the folder where a training run keeps its chosen model.

Spelt once, for the code that writes them (models.storage, engine.checkpoint) and the code that finds them
(models.resolve), so that inference can find a run's model without importing the training engine.
"""

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SELECTED = "selected"  # a training run's selected model, a model directory of its own
FOLD_PREFIX = "fold_"  # a cross-validation run keeps fold k in fold_{k:02d}/, a training run of its own
