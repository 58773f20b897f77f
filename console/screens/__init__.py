"""The console's screens: `base.py` holds what every screen shares, one module per screen,
and `registry.py` the table of the screens `:` jump, the palette and help can open."""
