"""Domain plumbing shared by the services: events, live state, printer control."""
