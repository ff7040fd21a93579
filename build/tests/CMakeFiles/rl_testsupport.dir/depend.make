# Empty dependencies file for rl_testsupport.
# This may be replaced when dependencies are built.
