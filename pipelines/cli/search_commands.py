"""Commands of this area are registered on pipelines.cli.app here."""
