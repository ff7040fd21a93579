# Empty dependencies file for reloadd.
# This may be replaced when dependencies are built.
