"""The augmentation policies of pcnn_fer.data.transforms, importable without torch: a recipe and the command
line offer them."""

AUGMENTATIONS = ("reference", "light", "none")
