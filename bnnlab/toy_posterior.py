"""Chapter 3's library under its former name: a re-export of `bnnlab.exact` (data, model,
quadrature, fitting), kept so that existing imports keep working."""

from bnnlab.exact.data import *  # noqa: F403
from bnnlab.exact.data import check_model  # noqa: F401
from bnnlab.exact.fitting import *  # noqa: F403
from bnnlab.exact.model import *  # noqa: F403
from bnnlab.exact.quadrature import *  # noqa: F403
