"""Code both Lambdas share: configuration, the ECS service's state, the secret reader."""
