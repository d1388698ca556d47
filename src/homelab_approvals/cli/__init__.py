"""The command line: a thin layer that parses, calls the service and prints."""
