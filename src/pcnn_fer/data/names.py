"""The augmentation policies of pcnn_fer.data.transforms, importable without torch: a recipe and the command
line offer them."""

AUGMENTATIONS = ("reference", "light", "wild", "none")
# Run per batch on the training device (pcnn_fer.data.batch_augment): the loader hands over uint8 faces.
BATCHED_AUGMENTATIONS = ("wild",)
