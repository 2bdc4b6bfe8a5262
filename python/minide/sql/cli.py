"""`minide sql ...` subcommands, registered with minide.cli.command."""
