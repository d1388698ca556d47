"""Domain layer: models, enums, rules and errors. No I/O, no UI."""
