"""The console's modal screens, one per module: `confirm` (what a change will do, confirmed
by typing the version and a reason), `note` (a one-line prompt) and `jump` (`:`)."""
