"""The `journeyrank` command line and the jobs it runs."""
