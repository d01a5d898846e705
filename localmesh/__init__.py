"""A local mesh: the project's own agents and handlers wired together on loopback."""
