"""The suite's common library: configuration, database, events, auth, errors, metrics, logging."""
