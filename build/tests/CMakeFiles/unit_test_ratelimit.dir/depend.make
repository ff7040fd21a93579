# Empty dependencies file for unit_test_ratelimit.
# This may be replaced when dependencies are built.
