"""`minide stream ...` subcommands, registered with minide.cli.command."""
