"""The engine's parts that connectors are handed: the shared rate limiter, the token store, and
`client_for`, which builds a connector's client with both."""
