"""std: the standard deviation of a column's present values within min/max and/or within a
factor (1 + sigmas) of the reference's."""

from lookout.scheduler.checks.statistic import check_type

CHECK = check_type("std")
