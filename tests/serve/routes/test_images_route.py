"""The image routes alone: records per face, min_score applied before the model, one answer per image."""

from __future__ import annotations

from pcnn_fer.faces.detect import Detection
from pcnn_fer.inference.recognizer import Recognizer
from pcnn_fer.serve.routes.images import router


class UnsureFirst:
    """Two faces on any image, the unsure one first."""

    name = "unsure-first"

    def detect(self, image):
        return [Detection((20, 10, 60, 46), 0.4, None), Detection((0, 0, 32, 32), 0.99, None)]

    def detect_batch(self, images):
        return [self.detect(image) for image in images]


def test_analyze_answers_each_face_and_min_score_leaves_faces_out_before_the_model(alone, recognizer, encoded):
    recognizer.batches.clear()
    client = alone(router)
    (face,) = client.post("/v1/analyze", content=encoded()).json()["faces"]
    assert face["face"] == 0 and set(face["probabilities"]) == set(recognizer.class_names)
    unsure = Recognizer(recognizer.model, detector=UnsureFirst())
    client.app.state.context.batcher.recognizer = unsure
    (kept,) = client.post("/v1/analyze?min_score=0.9", content=encoded()).json()["faces"]
    assert kept["face"] == 0 and kept["detection_score"] == 0.99  # numbered as predict numbers them: no gap


def test_batch_answers_in_order_with_a_bad_image_alone(alone, encoded):
    client = alone(router)
    files = [("images", ("a.png", encoded(seed=1))), ("images", ("bad.png", b"nope")),
             ("images", ("c.png", encoded(seed=2)))]
    results = client.post("/v1/analyze/batch", files=files).json()["results"]
    assert [r["input"] for r in results] == ["a.png", "bad.png", "c.png"]
    assert "faces" in results[0] and results[1]["error"]["code"] == "bad_image" and "faces" in results[2]
