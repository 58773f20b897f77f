"""One module per `lookout` subcommand, each exposing `run(args) -> int`."""
