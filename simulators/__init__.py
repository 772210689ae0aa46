"""The API simulators: real HTTP servers on the real paths, used by the demo, the tests and the bench."""
