"""`minide replication ...` subcommands, registered with minide.cli.command."""
