"""One module per resource family; each exposes ``routes: RouteTable``."""
