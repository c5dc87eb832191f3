"""What a model directory says about its model besides the architecture: where it came from, how well it does,
how to feed it. Kept as the `metadata` object of config.json; read back into one typed record (pcnn_fer.validation),
so that a key is written and read under the same name and shape."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from pcnn_fer.validation import Checked, Float


class Section(Checked):
    """A typed part of the metadata; entries it does not name travel along as written."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """The section as config.json keeps it (unset entries left out)."""
        return self.model_dump(exclude_none=True)


class Selection(Section):
    """How the kept epoch was chosen: a rule (val, last, test) or the split it was chosen on, and the metric."""

    rule: str | None = None
    split: str | None = None
    metric: str | None = None
    epoch: int | None = None


class Calibration(Section):
    """The softmax temperature fitted on held-out data, and where it was fitted."""

    temperature: Float = Field(gt=0.0)
    fitted_on: str | None = None


# The metrics entry that keeps a corrected model's FERPlus Test figures as they were without the correction.
WITHOUT_PRIOR_CORRECTION = "test_without_prior_correction"


class PriorCorrection(Section):
    """A shift of the predictions away from the training data's class prior, fitted on held-out data.

    Probabilities become softmax(logits / T - weight * log prior): weight 0 keeps the training prior (what the
    model learnt), weight 1 divides it out fully (every class a priori equally likely, as Bayes' rule says for a
    calibrated model). Faces met in use rarely share FERPlus's prior (36 % neutral, 0.5 % disgust); the fitted weight
    trades accuracy on that prior for recall of the rare classes.
    """

    weight: Float = Field(ge=0.0)
    prior: list[float]  # in the model's class order, summing to 1
    fitted_on: str | None = None
    fitted_weight: Float | None = Field(None, ge=0.0)  # fitted but not applied (the weight is then 0)

    @property
    def suggested_weight(self) -> float:
        """The weight fitted on held-out data: the one recorded for users to opt in with, else the one applied."""
        return self.fitted_weight if self.fitted_weight is not None else self.weight

    @field_validator("prior")
    @classmethod
    def _a_distribution(cls, prior: list[float]) -> list[float]:
        if not prior or min(prior) <= 0 or abs(sum(prior) - 1) > 1e-3:
            raise ValueError(f"prior must be positive class frequencies summing to 1, got {prior}")
        return prior


class Framing(Section):
    """How faces are cut for the model: pcnn_fer.faces.framing.FaceFraming, as plain data."""

    template: dict[str, Any]
    grey: bool = False
    working_size: int | None = Field(None, ge=1)


class ModelMetadata(Checked):
    """A model's provenance, measurements and input framing; entries it does not know travel in `extra`."""

    model_config = ConfigDict(frozen=True)
    what = "model metadata"

    dataset: str | None = None  # the dataset reader it was trained on
    fold: str | None = None  # the cross-validation fold, when it is one fold's model
    recipe: dict[str, Any] | None = None  # the resolved training recipe
    git_revision: str | None = None  # the tree it was trained from ("-dirty": with uncommitted edits)
    # Sections are read from JSON objects (strict=False there: the section's own fields stay strict).
    selection: Selection | None = Field(None, strict=False)  # how its epoch was chosen
    epoch: int | None = None  # epochs trained when it was saved
    framing: Framing | None = Field(None, strict=False)  # how faces are cut for it
    calibration: Calibration | None = Field(None, strict=False)  # the softmax temperature fitted on held-out data
    prior_correction: PriorCorrection | None = Field(None, strict=False)  # the shift from the training prior
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)  # figures per split: {"test": {"accuracy": ..}}
    training_data: dict[str, Any] = Field(default_factory=dict)  # name, protocol, split sizes and terms of the data
    source: dict[str, Any] | None = None  # provenance of an imported checkpoint (file, sha256, ...)
    extra: dict[str, Any] = Field(default_factory=dict)  # every other entry (name, summary, input, ...), as written

    @property
    def temperature(self) -> float:
        """The calibration temperature, 1.0 (no change) when none was fitted."""
        return self.calibration.temperature if self.calibration else 1.0

    @property
    def prior_weight(self) -> float:
        """The prior correction's weight the model applies: the fitted one, 0.0 when none was fitted."""
        return self.prior_correction.weight if self.prior_correction else 0.0

    def logit_offset(self, weight: float | None = None) -> list[float] | None:
        """What to add to the raw logits for the prior correction at `weight` (None: the fitted one), so that
        (logits + offset) / T = logits / T - weight * log prior at the calibration's temperature T, the one the
        weight was fitted at (dividing by another temperature changes confidences, not the predicted class);
        None when there is nothing to add.

        A weight given for a model that records no prior is an error: there is nothing to correct from."""
        if weight is not None and weight < 0:
            raise ValueError(f"the prior correction's weight must be 0 or more, got {weight}")
        if self.prior_correction is None:
            if weight:
                raise ValueError("this model records no training class prior, so its predictions cannot be "
                                 "corrected for one; use a prior correction of 0")
            return None
        weight = self.prior_correction.weight if weight is None else weight
        if weight == 0:
            return None
        return [-self.temperature * weight * math.log(share) for share in self.prior_correction.prior]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object config.json keeps: known entries that are set, then the extra ones."""
        known = {name: getattr(self, name) for name in type(self).model_fields if name != "extra"}
        known = {name: value.to_dict() if isinstance(value, Section) else value for name, value in known.items()}
        return {**{k: v for k, v in known.items() if v not in (None, {}, [])}, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ModelMetadata:
        """The record of a config.json `metadata` object; unknown entries go to `extra`."""
        data = dict(data or {})
        if isinstance(data.get("selection"), str):  # written as a rule name and a metric before it was a record
            data["selection"] = {"rule": data["selection"], "metric": data.pop("selection_metric", None)}
        known = {name: data.pop(name) for name in list(data) if name in cls.model_fields and name != "extra"}
        return cls(**known, extra=data)
