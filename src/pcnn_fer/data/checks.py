"""Which samples' images can be read: the one check behind `pcnn-fer data inspect --decode`, training and eval.

Reading happens in DataLoader workers, so checking a large dataset uses every core it is given.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch.utils.data import DataLoader, Dataset

from pcnn_fer.data.images import ImageError, load_image
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.progress import progress


class _ImageCheck(Dataset):
    """For each sample, "" when its image can be read, else the reason (which names the file)."""

    def __init__(self, samples: SampleSet, decode: bool) -> None:
        self.samples, self.decode = samples, decode

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> str:
        source = self.samples.samples[index].source
        try:
            if self.decode or not isinstance(source, (str, Path)):
                load_image(source)
                return ""
            with Image.open(source) as image:  # parses the header only
                width, height = image.size
        except ImageError as error:
            return str(error)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            return f"{source}: not an image Pillow can read ({error})"
        return "" if width > 0 and height > 0 else f"{source}: image has no pixels ({width} x {height})"


def unreadable_images(samples: SampleSet, *, decode: bool, workers: int = 0, show_progress: bool = True
                      ) -> dict[str, str]:
    """Key -> reason for each sample whose image cannot be read, in sample order.

    decode=True decodes every image as training will; decode=False parses file headers only, which is cheap
    and finds missing, empty and non-image files, though not truncated pixel data.
    """
    loader = DataLoader(_ImageCheck(samples, decode), batch_size=64, num_workers=workers, collate_fn=list)
    reasons: list[str] = []
    for batch in progress(loader, len(loader), f"checking {samples.name} images", show_progress, unit="batch"):
        reasons.extend(batch)
    return {sample.key: reason for sample, reason in zip(samples, reasons) if reason}
