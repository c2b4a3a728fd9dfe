"""Command-line interface (placeholder)."""


def main() -> None:
    """Run the CLI."""
