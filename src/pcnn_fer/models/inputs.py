"""A PCNN's input convention (smallest face, default normalisation), importable without torch: recipes and the
command line check against it."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalisation of ImageNet-trained trunks, every config's default
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_INPUT_SIZE = 32  # the trunks downsample 32x: a smaller face leaves no final-stage map
