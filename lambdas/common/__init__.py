"""Code both Lambdas share: configuration, the ECS service's state, the wake/sleep log, the secret."""
