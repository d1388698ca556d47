"""The executor: carries out approved actions over SSH, each exactly once.

A caller of the service (service/executions.py holds every rule): `worker` claims and
finishes actions, `transport` runs one command through the system OpenSSH client,
`log` writes one line per transition."""
