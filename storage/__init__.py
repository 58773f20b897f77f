"""The Lookout store: one SQLite file per workspace, and every read and write of it."""
