"""`minide kv ...` subcommands, registered with minide.cli.command."""
