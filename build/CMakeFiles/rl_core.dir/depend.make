# Empty dependencies file for rl_core.
# This may be replaced when dependencies are built.
