"""mean: the mean of a column's present values within min/max and/or N sigmas of the reference."""

from lookout.scheduler.checks.statistic import check_type

CHECK = check_type("mean")
