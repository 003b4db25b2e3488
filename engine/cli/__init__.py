"""The `cdp` command. Each capability registers its subcommands in its own module."""
