"""`minide columnar ...` subcommands, registered with minide.cli.command."""
