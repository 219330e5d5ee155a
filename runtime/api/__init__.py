"""HTTP routers, one per area; every router but login and health requires the login cookie."""
