"""A sample set of whole frames turned into one of aligned face crops, for training on faces found by a detector.

`pcnn-fer quickstart` trains on the CK+ sample this way: its frames show a head and shoulders, the model wants
the face alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pcnn_fer.data.images import load_image
from pcnn_fer.data.sample import SampleSet
from pcnn_fer.faces.align import align_box, align_detection
from pcnn_fer.faces.registry import create_detector


def crop_faces(samples: SampleSet, size: int) -> SampleSet:
    """Each image replaced by its aligned face crop (size x size pixels); the whole frame when no face is found.

    Faces are found by OpenCV's Haar detector, the first one kept; the crops are held in memory as the sources.
    """
    detector = create_detector("haar")
    cropped = []
    for sample in samples:
        image = load_image(sample.source)
        faces = detector.detect(image)
        if faces:
            crop, _ = align_detection(image, faces[0], size=size)
        else:
            crop, _ = align_box(image, (0.0, 0.0, float(image.shape[1]), float(image.shape[0])), size=size,
                                margin=0.0)
        cropped.append(replace(sample, source=np.ascontiguousarray(crop)))
    return samples.subset(cropped)
