"""Domain services: the rules and state machines. Routes call these; they call storage."""
