"""The two errors a learner's input can raise: both are `ValueError`s whose message names the
problem in words a page can show as it is."""


class ConfigError(ValueError):
    """A setting out of bounds or of the wrong kind, or settings too costly together; the
    message names the setting (and, for the cost budget, what to lower)."""


class DataError(ValueError):
    """Data rejected or missing: an uploaded CSV's bad line, a dataset that cannot draw that many
    classes, or the shipped digits file missing or damaged. The message says what and where."""
