"""GET /v1/models: the loaded model, its classes, the input it expects and what it was measured at."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pcnn_fer.models.organs import ORGANS
from pcnn_fer.serve.context import API, ServerContext, server_context

router = APIRouter(prefix=API, tags=["models"])


@router.get("/models")
async def models(context: ServerContext = Depends(server_context)) -> dict:
    """The loaded model: its classes, the input it expects and what it was measured at."""
    recognizer = context.recognizer
    preprocessing = recognizer.preprocessing
    return {"backbone": recognizer.config.backbone, "classes": list(recognizer.class_names), "organs": list(ORGANS),
            "input": {"size": recognizer.config.input_size, "mean": list(preprocessing.mean),
                      "std": list(preprocessing.std), "framing": recognizer.framing.to_dict()},
            "temperature": recognizer.temperature,
            "prior_correction": recognizer.prior_correction, "flip_tta_default": context.settings.flip_tta,
            "metadata": recognizer.model.metadata.to_dict()}
