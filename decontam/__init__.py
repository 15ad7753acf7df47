"""decontam: remove training records that contain benchmark test items (what lm-eval scores), with a report."""
