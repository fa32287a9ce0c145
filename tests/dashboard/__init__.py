"""The web dashboard in a real browser."""
