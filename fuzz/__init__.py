"""Coverage-guided fuzzing of the parsers an attacker feeds (issue 15): see docs/security.md."""
