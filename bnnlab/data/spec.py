"""What a dataset compiles into the engine, and the spec of an image set (`digits.SPEC`); the toy
2-D sets' spec is `toy.DatasetSpec`. Both answer `label`, `max_classes` and `shape(K)`."""

from __future__ import annotations

from typing import NamedTuple


class DataShape(NamedTuple):
    """Input dimension D, number of classes K and the likelihood that reads the network's
    outputs (`bnnlab.registry.LIKELIHOODS`)."""

    num_inputs: int
    num_classes: int
    likelihood: str


def toy_shape(num_classes: int = 2) -> DataShape:
    """A 2-D toy set with K classes: two are the Bernoulli path (one logit), K > 2 a
    categorical softmax over K logits."""
    if num_classes <= 2:
        return DataShape(2, 2, "bernoulli")
    return DataShape(2, int(num_classes), "categorical")


class ImageSpec(NamedTuple):
    """An image dataset: fixed inputs and classes, a categorical likelihood."""

    label: str
    description: str
    num_inputs: int
    num_classes: int

    @property
    def max_classes(self) -> int:
        return self.num_classes

    def shape(self, num_classes: int = 2) -> DataShape:
        """Its own shape (`num_classes` is ignored: the images have theirs)."""
        del num_classes
        return DataShape(self.num_inputs, self.num_classes, "categorical")
