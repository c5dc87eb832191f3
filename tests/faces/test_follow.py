"""FaceFollower: a search every Nth frame on a downscaled copy, faces re-measured in between, a new search when one
is lost; and MTCNN's O-Net re-measuring real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pcnn_fer.faces.detect import Detection, iou
from pcnn_fer.faces.follow import FaceFollower, detect_downscaled
from pcnn_fer.faces.mtcnn import MTCNN


class ScriptedDetector:
    """Finds `faces` (in the pixels of the image it is given); re-measures known faces as `refined` says."""

    name = "scripted"

    def __init__(self, faces: list[Detection], refined=None) -> None:
        self.faces, self.refined = faces, refined
        self.searched: list[tuple[int, int]] = []  # image shapes searched
        self.refines = 0

    def detect(self, image):
        self.searched.append(image.shape[:2])
        scale = image.shape[1] / 640
        return [face.scaled(scale) for face in self.faces]

    def detect_batch(self, images):
        return [self.detect(image) for image in images]

    def refine(self, image, faces):
        self.refines += 1
        return self.refined(faces) if self.refined else [Detection(f.box, 0.99, f.landmarks) for f in faces]


class SearchOnly(ScriptedDetector):
    refine = None  # not a Refiner: cannot re-measure faces


FRAME = np.zeros((360, 640, 3), dtype=np.uint8)
FACE = Detection((200, 80, 360, 290), 0.999)


def test_a_search_every_nth_frame_on_a_downscaled_copy_and_faces_followed_in_between():
    detector = ScriptedDetector([FACE])
    follower = FaceFollower(detector, detect_every=5, detect_side=320)
    per_frame = follower.detect_batch([FRAME] * 12)
    assert detector.searched == [(180, 320)] * 3  # frames 0, 5 and 10, at half size
    assert dict(follower.counts) == {"detected": 3, "followed": 9}
    assert all(len(faces) == 1 and iou(faces[0].box, FACE.box) > 0.99 for faces in per_frame)  # mapped back
    assert detector.refines == 12  # fresh detections are re-measured at full size too


def test_a_lost_face_starts_a_new_search_at_once():
    lost = {"now": False}
    detector = ScriptedDetector([FACE], refined=lambda faces: [None] * len(faces) if lost["now"] else faces)
    follower = FaceFollower(detector, detect_every=10, detect_side=None)
    follower.detect_batch([FRAME] * 3)
    lost["now"] = True
    follower.detect(FRAME)
    assert follower.counts["detected"] == 2 and len(detector.searched) == 2


def test_two_followed_faces_that_converge_on_one_start_a_new_search():
    other = Detection((205, 85, 365, 295), 0.99)
    detector = ScriptedDetector([FACE, Detection((400, 80, 560, 290), 0.99)], refined=lambda faces: [FACE, other])
    follower = FaceFollower(detector, detect_every=10, detect_side=None)
    follower.detect_batch([FRAME] * 2)
    assert follower.counts["detected"] == 2


def test_while_no_face_is_known_every_frame_is_searched():
    detector = ScriptedDetector([])
    follower = FaceFollower(detector, detect_every=5, detect_side=None)
    assert follower.detect_batch([FRAME] * 4) == [[]] * 4
    assert len(detector.searched) == 4


def test_a_detector_that_cannot_refine_searches_every_frame_and_every_frame_is_one_search():
    detector = SearchOnly([FACE])
    FaceFollower(detector, detect_every=5, detect_side=None).detect_batch([FRAME] * 3)
    assert len(detector.searched) == 3
    with pytest.raises(ValueError, match="detect_every"):
        FaceFollower(detector, detect_every=0)
    with pytest.raises(ValueError, match="detect_side"):
        FaceFollower(detector, detect_side=10)


def test_detect_downscaled_leaves_small_images_alone():
    detector = ScriptedDetector([FACE])
    assert detect_downscaled(detector, FRAME, 640)[0].box == FACE.box
    assert detector.searched == [(360, 640)]


@pytest.mark.network
def test_onet_follows_the_real_face_of_the_next_frames(pyfeat_data):
    detector = MTCNN.from_pretrained()
    capture = cv2.VideoCapture(str(pyfeat_data / "single_face.mp4"))
    frames = []
    while len(frames) < 12:
        ok, frame = capture.read()
        assert ok
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    known = detector.detect(frames[5])
    assert len(known) == 1
    for frame in frames[6:12]:
        (searched,) = detector.detect(frame)
        (followed,) = detector.refine(frame, known)
        assert iou(followed.box, searched.box) > 0.8 and followed.score > 0.9
        assert np.abs(followed.landmarks - searched.landmarks).max() < 0.05 * searched.width
        known = [followed]
    assert detector.refine(np.zeros_like(frames[0]), known) == [None]  # no face there any more
