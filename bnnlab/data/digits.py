"""The 8×8 handwritten digits (UCI optdigits test set, 1,797 images, 10 classes), shipped in
the repository (`optdigits_8x8.npz`, source and licence in `DATA_LICENSE.md` beside it); never
downloaded at run time."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from bnnlab.core.errors import DataError
from bnnlab.data.spec import ImageSpec

DIGITS_PATH = Path(__file__).resolve().parent / "optdigits_8x8.npz"
NUM_IMAGES = 1797
NUM_FEATURES = 64
NUM_CLASSES = 10
MAX_VALUE = 16
# sha256 of images.tobytes() + labels.tobytes() (uint8, C order) as shipped: any change to the
# pixels or labels, not only a damaged archive, is caught.
DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


SPEC = ImageSpec("8×8 handwritten digits (10 classes)",
                 "UCI optdigits: 1,797 images of 8×8 pixels 0…16, scaled to [0, 1]",
                 NUM_FEATURES, NUM_CLASSES)


def _fail(path: Path, what: str) -> DataError:
    return DataError(f"The digits data {path} {what}. It ships with BNN Lab (bnnlab/data/); "
                     "restore it from the repository (git checkout -- bnnlab/data).")


def load_digits(path: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-> (x float32[1797, 64] with integer values in 0..16, row-major 8×8 images;
    y int32[1797] in 0..9). Raises `DataError` (never a bare traceback from numpy or zipfile)
    if the file is missing, unreadable, or its contents differ from what was shipped."""
    path = DIGITS_PATH if path is None else Path(path)
    if not path.is_file():
        raise _fail(path, "is missing")
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = np.asarray(archive["images"])
            labels = np.asarray(archive["labels"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise _fail(path, f"cannot be read ({type(err).__name__}: {err})") from None
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise _fail(path, f"has dtypes {images.dtype}/{labels.dtype}, expected uint8")
    if images.shape != (NUM_IMAGES, NUM_FEATURES) or labels.shape != (NUM_IMAGES,):
        raise _fail(path, f"has shapes {images.shape}/{labels.shape}, "
                          f"expected ({NUM_IMAGES}, {NUM_FEATURES})/({NUM_IMAGES},)")
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes()
                            + np.ascontiguousarray(labels).tobytes()).hexdigest()
    if digest != DIGITS_SHA256:
        raise _fail(path, "does not match the shipped checksum (corrupt or modified)")
    return images.astype(np.float32), labels.astype(np.int32)


def split_digits(y: np.ndarray, test_fraction: float = 0.25, seed: int = 0,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split: int[n] labels -> (train_idx int64[n_train], test_idx
    int64[n_test]), each sorted. Per class c with n_c images, round(n_c · test_fraction) go to
    test (at least one, and at least one left for training, when n_c ≥ 2), chosen by a
    permutation from `np.random.default_rng(seed)` (classes in increasing order)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        members = members[rng.permutation(len(members))]
        n_test = int(round(len(members) * test_fraction))
        if len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
