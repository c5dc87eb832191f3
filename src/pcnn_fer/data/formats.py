"""Which files count as images and how large an image may be: constants only, importing nothing, so that the
command-line parsers can show them without loading the image decoders."""

DEFAULT_MAX_PIXELS = 100_000_000  # 10000 x 10000; about 300 MB once decoded to RGB

# File suffixes of still images Pillow reads, for finding images in folders (the content decides in the end).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
                                   ".pbm")
