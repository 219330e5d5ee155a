"""Blu's metrics (CloudWatch embedded metric format) and structured, scrubbed logs, for the runtime and the Lambdas."""
