# Empty dependencies file for unit_test_foundation.
# This may be replaced when dependencies are built.
