"""Local servers for the station profile and the tests: the embedded MongoDB-wire, Kafka and
Redis servers, started on free loopback ports, checked, and stopped without strays."""
