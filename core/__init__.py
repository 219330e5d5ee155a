"""What the container and the Lambdas both run: login, store, observability, idle rule, power log, settings."""
