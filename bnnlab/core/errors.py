"""The two errors a learner's input can raise: both are `ValueError`s whose message names the
problem in words a page can show as it is (a `BudgetError` is a `ConfigError`)."""


class ConfigError(ValueError):
    """A setting out of bounds or of the wrong kind, or settings too costly together; the
    message names the setting (and, for the cost budget, what to lower)."""


class BudgetError(ConfigError):
    """Settings over the cost budget (`training.cost.check_cost`): `setting` names the one to
    lower ("hidden" for the layers) and `at_most` the value that fits (None when the message
    says it in words), so a page can say it in its own terms (an upload's rows)."""

    def __init__(self, message: str, setting: str, at_most: int | None) -> None:
        super().__init__(message)
        self.setting = setting
        self.at_most = at_most


class DataError(ValueError):
    """Data rejected or missing: an uploaded CSV's bad line, a dataset that cannot draw that many
    classes, or the shipped digits file missing or damaged. The message says what and where."""
