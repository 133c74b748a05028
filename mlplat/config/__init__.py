"""Config schemas, config discovery and the compose API used by every subcommand."""
